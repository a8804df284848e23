"""Re-applying an archived delivery on purpose (`hub deliveries reapply ID --by NAME`), on both warehouses: after a
bad export, re-sending the last good one starts nothing (identical bytes); re-applying it brings its state back,
audited, and the import log says which delivery the state now follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.star_files import classlink_users, ps_students, roster
from hub.cli.main import main as hub_cli
from tests.harness import tick
from tests.test_star_identity import chain  # noqa: F401
from tests.test_star_pipeline import load_identity, put, query


def test_an_operator_reapplies_the_last_good_export(chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture):
    defs, instance, folders = chain
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    r = roster(20)
    good = ps_students(r)
    load_identity(defs, instance, folders, classlink_users(r), good)
    good_bytes = (folders["powerschool"] / "students.csv").read_bytes()
    (good_id,) = query("SELECT delivery_id FROM ops.deliveries WHERE feed = 'powerschool'")[0]
    put(folders["powerschool"] / "students.csv", good.drop(index=range(5)))  # a bad night: 5 students missing
    assert [run.success for run in tick(defs, instance, "powerschool__deliveries").runs] == [True]
    assert query("SELECT count(*) FROM core.student_crosswalk WHERE system = 'powerschool'") == [(15,)]
    put(folders["powerschool"] / "students.csv", good_bytes)  # the obvious recovery: re-send the good export
    again = tick(defs, instance, "powerschool__deliveries")
    assert again.runs == [] and "identical bytes" in again.skip_reason
    assert hub_cli(["deliveries", "reapply", good_id, "--by", "Dana Data", "--registry",
                    str(tmp_path / "registry.yaml")]) == 0
    assert f"re-applied students.csv (delivery {good_id}" in capsys.readouterr().out
    assert query("SELECT count(*) FROM core.student_crosswalk WHERE system = 'powerschool'") == [(20,)]
    assert query("SELECT delivery_id, requested_by FROM ops.reapplications") == [(good_id, "Dana Data")]
    assert query("SELECT reason FROM ops.delivery_events WHERE delivery_id = :d ORDER BY occurred_at DESC",
                 d=good_id)[0] == ("re-applied on purpose by Dana Data",)
    logs = sorted(Path(tmp_path / "archive").rglob("*.import-log.txt"), key=lambda p: p.stat().st_mtime)
    text = logs[-1].read_text()
    assert f"state now follows: delivery {good_id}: students.csv of " in text
    assert "re-applied on purpose by: Dana Data" in text


def test_a_reapply_names_who_asks_and_an_existing_delivery(chain, tmp_path: Path, capsys: pytest.CaptureFixture):
    defs, instance, folders = chain
    assert hub_cli(["deliveries", "reapply", "no-such-delivery", "--by", "Dana Data", "--registry",
                    str(tmp_path / "registry.yaml")]) == 2
    assert "no delivery no-such-delivery in the warehouse" in capsys.readouterr().err
