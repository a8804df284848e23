"""Renaissance Star layouts, on both warehouses: a zip's members that are not SM, SR or SEL are listed as skipped
with the reason; a file named like an assessment file but holding another Star layout (SkillArea, Florida FAST
K-2) is rejected with a reason that names it and the accepted layouts, and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from demo.star_files import classlink_users, ps_students, roster, star_rows
from tests import star_layouts
from tests.test_star_pipeline import belleville, checks, load_identity, query, star

SAMPLES = Path(__file__).resolve().parents[1] / "reference"
SKILL_AREA = SAMPLES / "renaissance_star_samples/earthmover_SR_SkillArea_v1_sample_anonymized_file.csv"
DASHBOARD = SAMPLES / "renaissance_star_samples/earthmover_SR_Dashboard_Standards_v2_sample_anonymized_file.csv"
FAST_K2 = {"SEL.csv": SAMPLES / "star_headers/fl_FAST_K2_star_early_literacy_PM_114cols.csv",
           "SR.csv": SAMPLES / "star_headers/fl_FAST_K2_star_reading_PM_120cols.csv"}


@pytest.fixture
def hub(tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch):
    defs, instance, folders = belleville(tmp_path, warehouse_url, monkeypatch)
    r = roster(8)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    return defs, instance, folders, r


def sample(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_zip_members_of_other_layouts_are_listed_as_skipped_with_the_reason(hub):
    defs, instance, folders, r = hub
    t = star(defs, instance, folders, {"SM.csv": star_rows(r, "Belleville Public Schools", star_layouts.SM_V2),
                                        "SR_SkillArea_v1.csv": sample(SKILL_AREA),
                                        "SR_Dashboard_Standards_v2.csv": sample(DASHBOARD)})
    assert [run.success for run in t.runs] == [True]
    skipped = query("SELECT file_name, reason FROM ops.deliveries WHERE status = 'skipped' ORDER BY 1")
    assert [n for n, _ in skipped] == ["SR_Dashboard_Standards_v2.csv", "SR_SkillArea_v1.csv"]
    assert all("not a file of this feed" in why and "SM.csv" in why for _, why in skipped)
    (container,) = query("SELECT reason FROM ops.deliveries WHERE status = 'unpacked'")
    assert "2 skipped" in container[0] and "SR_SkillArea_v1.csv" in container[0]
    md = t.runs[0].asset_materializations_for_node("renaissance_star__sm")[0].metadata
    listed = md["skipped in the same zip"].value
    assert "SR_SkillArea_v1.csv" in listed and "SR_Dashboard_Standards_v2.csv" in listed and "not a file" in listed
    assert query("SELECT count(*) FROM core.star_assessments")[0][0] == len(r)


def fast_k2(name: str) -> pd.DataFrame:
    header = FAST_K2[name].read_text(encoding="utf-8").strip().split(",")
    return pd.DataFrame([["1"] * len(header)], columns=header)


def test_another_star_layout_under_an_assessment_name_is_rejected_with_the_accepted_layouts(hub):
    defs, instance, folders, r = hub
    zips = [{"SR.csv": sample(SKILL_AREA), "SEL.csv": fast_k2("SEL.csv")}, {"SR.csv": fast_k2("SR.csv")}]
    for n, files in enumerate(zips):
        t = star(defs, instance, folders, {**files, "readme.txt": pd.DataFrame({"n": [n]})})  # new bytes each time
        assert [run.success for run in t.runs] == [False]
        assert all(checks(t.runs[0])[(name.removesuffix(".csv").lower(), "schema")] is False for name in files)
    reasons = [reason for (reason,) in query("SELECT reason FROM ops.ingest_errors WHERE gate = 'schema'")]
    assert sorted("SkillArea" if "SkillArea" in why else "FAST K-2" if "Florida FAST K-2" in why else why
                  for why in reasons) == ["FAST K-2", "FAST K-2", "SkillArea"]
    assert all("accepted:" in why and "ScaledScore" in why for why in reasons)
    assert query("SELECT DISTINCT status FROM ops.deliveries WHERE file_name IN ('SR.csv', 'SEL.csv')") == [
        ("rejected",)]
    assert query("SELECT count(*) FROM core.star_assessments")[0][0] == 0
