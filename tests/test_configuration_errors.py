"""Configuration errors fail clearly: a bad HUB_DISTRICT_DIRECTORY stops the definitions from loading with the
setting named; one that turns bad under a loaded hub marks the delivery failed with the reason in
ops.ingest_errors (both warehouses) — never a delivery left queued behind a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.definitions import build_definitions
from demo.star_files import classlink_users, ps_students, roster, star_rows
from hub.registry.configuration import ConfigurationError
from tests import star_layouts
from tests.conftest import write_registry
from tests.test_star_pipeline import NJ, belleville, integration, load_identity, query, star


@pytest.mark.parametrize("content", [None, b"not,a,directory\n1,2,3\n", b"\xff\xfe\x00garbage", b"districts: 3\n"],
                         ids=["missing", "not_elsi", "undecodable", "bad_registry"])
def test_a_bad_district_directory_fails_the_definitions_load_naming_the_setting(tmp_path, monkeypatch, content):
    path = tmp_path / ("directory.yaml" if content == b"districts: 3\n" else "directory.csv")
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv("HUB_DISTRICT_DIRECTORY", str(path))
    registry = write_registry(tmp_path / "registry.yaml", NJ, [integration("renaissance_star", tmp_path)])
    with pytest.raises(ConfigurationError, match=r"HUB_DISTRICT_DIRECTORY=.*directory\.(csv|yaml)"):
        build_definitions(registry)


def test_a_directory_that_turns_bad_under_a_loaded_hub_fails_the_delivery_with_the_reason(tmp_path, warehouse_url,
                                                                                          monkeypatch):
    defs, instance, folders = belleville(tmp_path, warehouse_url, monkeypatch)
    r = roster(5)
    load_identity(defs, instance, folders, classlink_users(r), ps_students(r))
    monkeypatch.setenv("HUB_DISTRICT_DIRECTORY", str(tmp_path / "moved-away.csv"))
    t = star(defs, instance, folders, {"SM.csv": star_rows(r, "Belleville Public Schools", star_layouts.SM_V2)})
    assert [run.success for run in t.runs] == [False]
    (status, reason), = query("SELECT status, reason FROM ops.deliveries WHERE file_name = 'SM.csv'")
    assert status == "failed" and "HUB_DISTRICT_DIRECTORY" in reason and "moved-away.csv" in reason
    assert query("SELECT gate FROM ops.ingest_errors") == [("configuration",)]
    assert query("SELECT count(*) FROM staging.renaissance_star__sm")[0][0] == 0
    assert query("SELECT count(*) FROM core.star_assessments")[0][0] == 0
