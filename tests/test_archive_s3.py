"""The archive in S3-compatible object storage (HUB_ARCHIVE_URL=s3://bucket/prefix) against a real S3-protocol server
on loopback: received files, containers, import logs and re-imports all live in the bucket, nothing on local disk,
and the keys are never echoed."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
import s3fs
import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from feeds.siras import FEED
from hub.apply.import_log import ImportLog
from hub.intake.tick import scan
from hub.registry.loading import parse_registry
from hub.store.schema import ensure_tables
from resources.archive import Archive, beside, local_copy, open_text, write_file
from resources.transport import FolderTransport
from resources.warehouse import Warehouse
from tests.conftest import CA_DISTRICTS, siras_integration
from tests.harness import rematerialize, tick
from tests.loopback import free_port
from tests.s3server import SECRET, S3Archive
from tests.test_import_log import materialization, no_student_values
from tests.test_siras_pipeline import SENSOR, drop, hub, query  # noqa: F401  (fixtures)

DAY = "2025-03-01"


def _receive(archive: Archive, folder: Path, name: str, data: bytes):  # noqa: ANN202
    (folder / name).write_bytes(data)
    transport = FolderTransport("siras-abc", folder)
    (remote,) = [f for f in transport.list_files(["*"]) if f.path == name]
    return archive.receive(transport, remote, "siras-abc", DAY)


def test_archive_keeps_files_and_reports_in_the_bucket(s3_archive: S3Archive, tmp_path: Path) -> None:
    archive, folder = Archive(s3_archive.url), tmp_path / "drop"
    folder.mkdir()
    data = b"SSID,LAST_NAME\n1,x\n"
    got = _receive(archive, folder, "Roster.csv", data)
    digest = hashlib.sha256(data).hexdigest()
    assert (got.path, got.sha256, got.size) == (
        f"{s3_archive.url}/siras-abc/{DAY}/{digest[:16]}__Roster.csv", digest, len(data))
    assert _receive(archive, folder, "Roster.csv", data) == got  # same bytes again: the same single object
    assert s3_archive.keys() == [got.path]
    assert s3_archive.fs().cat(got.path) == data
    with local_copy(got.path) as copy:  # readers get a local copy of the same name (messages name the file)
        assert copy.read_bytes() == data and copy.name == f"{digest[:16]}__Roster.csv"
    assert not copy.exists() and not copy.parent.exists()
    with write_file(f"{got.path}.run12345.import-log.txt") as out:
        out.write(b"Import log\n")
    assert beside(f"{got.path}.run12345.") == [f"{got.path}.run12345.import-log.txt"]
    with open_text(f"{got.path}.run12345.import-log.txt") as log:
        assert log.read() == "Import log\n"
    report = f"{got.path}.run12345.import-log.txt"
    assert ImportLog(report, report.replace(".import-log", ".row-errors"), 0, 0, 0, 0).head() == "Import log\n"


def test_a_failed_report_upload_leaves_the_old_one(s3_archive: S3Archive) -> None:
    location = f"{s3_archive.url}/x/report.txt"
    with write_file(location) as out:
        out.write(b"old\n")
    with pytest.raises(RuntimeError), write_file(location) as out:
        out.write(b"half")
        raise RuntimeError("the warehouse went away")
    assert s3_archive.fs().cat(location) == b"old\n"


def test_unreachable_object_storage_is_a_tick_error_and_the_file_comes_later(
        s3_archive: S3Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Object storage down: the tick reports why (naming the integration), records nothing and leaves no temp file;
    the next tick once it is back receives the file."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "1964212_demographics.csv").write_bytes(b"SSID,LastName\n1234567890,X\n")
    os.utime(landing / "1964212_demographics.csv", (time.time() - 3600, time.time() - 3600))
    wh = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    ensure_tables(wh, [FEED])
    reg = parse_registry({"districts": CA_DISTRICTS,
                          "integrations": [siras_integration({"kind": "folder", "path": str(landing)})]})
    integration = reg.integrations[0]

    def once():  # noqa: ANN202
        s3fs.S3FileSystem.clear_instance_cache()
        return scan(registry=reg, feed=FEED, integration=integration, archive=Archive(s3_archive.url),
                    transport=FolderTransport(integration.id, landing), warehouse=wh, cursor={}, now=time.time())

    def ledger() -> list[tuple]:
        with wh.begin() as conn:
            return [tuple(r) for r in conn.execute(sa.text("SELECT file_name, status FROM ops.deliveries"))]

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where partial uploads are written
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    down = once()
    assert down.error is not None and "siras_abc_unified" in down.error
    assert "object storage failed (EndpointConnectionError)" in down.error and SECRET not in down.error
    assert down.runs == [] and ledger() == [] and os.listdir(tmp_path / "tmp") == []
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_archive.endpoint)
    back = once()
    assert back.error is None and [r.file_types for r in back.runs] == [{"demographics"}]
    assert ledger() == [("1964212_demographics.csv", "queued")] and len(s3_archive.keys()) == 1
    assert os.listdir(tmp_path / "tmp") == []


def test_keys_in_the_archive_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="must not contain keys") as err:
        Archive(f"s3://AKIDEXAMPLE:{SECRET}@bucket/prefix")
    assert SECRET not in str(err.value)


def test_an_unknown_archive_scheme_stops_the_definitions_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_project.definitions import build_definitions
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_ARCHIVE_URL", "s4://bucket/prefix")
    registry = tmp_path / "registry.yaml"
    registry.write_text("districts: []\nintegrations: []\n")
    with pytest.raises(ValueError, match="HUB_ARCHIVE_URL: no storage for the scheme 's4'"):
        build_definitions(registry)


def test_siras_delivery_lands_in_the_bucket_and_reimports_from_it(hub_env, s3_archive: S3Archive, hub,  # noqa: F811
                                                                  landing) -> None:  # noqa: F811
    """End to end: the delivery sensor archives the file in the bucket, the run writes its import log there; with the
    drop folder emptied, an operator's re-materialization re-imports the file read back from the bucket. (Fixture
    order matters: hub_env clears HUB_ARCHIVE_URL, s3_archive sets it, hub builds the definitions.)"""
    defs, instance = hub
    frame = synthetic_students(6, "1964212").assign(Designation="SPED")
    dropped = drop(landing, "1964212_demographics.csv", frame, age_seconds=7200)
    first = tick(defs, instance, SENSOR)
    assert [r.success for r in first.runs] == [True]
    ((archive_path, status),) = query("SELECT archive_path, status FROM ops.deliveries")
    assert status == "applied" and archive_path.startswith(f"{s3_archive.url}/siras_abc_unified/")
    assert s3_archive.fs().cat(archive_path) == dropped.read_bytes()
    md = materialization(first.runs[0], "siras__student_updates")
    log = md["import log (demographics)"].value
    assert log.startswith(f"{archive_path}.{first.runs[0].run_id[:8]}.") and log.endswith(".import-log.txt")
    text = s3_archive.fs().cat(log).decode()
    assert "rows staged: 6" in text and "trigger: sensor" in text
    assert "file: 1964212_demographics.csv" in md["import log text (demographics)"].value  # read back for the UI
    no_student_values(text, frame)
    errors_csv = md["row errors CSV (demographics)"].value  # the row-error report beside it, in the bucket too
    assert errors_csv == log.replace(".import-log.txt", ".row-errors.csv")
    assert s3_archive.fs().cat(errors_csv) == b"row,line,column,rule\n"
    assert not (Path(hub_env["home"]) / "archive").exists()  # nothing of it on this machine's disk

    dropped.unlink()  # only the bucket has the file now
    day = first.result.run_requests[0].partition_key.keys_by_dimension["date"]
    again = rematerialize(defs, instance, "siras_import", "abc_unified", day)
    assert again.success
    staged = materialization(again, "siras__demographics")
    assert staged["rows read"].value == 6
    relog = materialization(again, "siras__student_updates")["import log (demographics)"].value
    assert relog.startswith(f"{archive_path}.{again.run_id[:8]}.") and relog != log
    retext = s3_archive.fs().cat(relog).decode()
    assert "rows staged: 6" in retext and "trigger: manual" in retext
    assert ", create," not in retext and ", update," not in retext  # re-importing the same file changes nothing
    assert query("SELECT count(*) FROM core.students")[0][0] == 6
    assert set(s3_archive.keys()) == {archive_path, log, errors_csv, relog, relog.replace(".import-log.txt",
                                                                                        ".row-errors.csv")}
    events = instance.all_logs(first.runs[0].run_id) + instance.all_logs(again.run_id)
    assert not any(SECRET in str(e) for e in events)  # the key is never echoed


def test_a_zip_container_is_unpacked_into_the_bucket(s3_archive: S3Archive, tmp_path: Path) -> None:
    from hub.intake.containers import unpack
    archive, folder = Archive(s3_archive.url), tmp_path / "drop"
    folder.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("client/1964212_demographics.csv", "SSID\n1\n")
    got = _receive(archive, folder, "abc.zip", buf.getvalue())
    with local_copy(got.path) as container:
        (member,) = unpack(archive, container, "siras-abc", DAY, lambda n: n.endswith(".csv"))
    assert member.path.startswith(f"{s3_archive.url}/siras-abc/{DAY}/") and member.path.endswith(
        "__1964212_demographics.csv")
    assert s3_archive.fs().cat(member.path) == b"SSID\n1\n"


@pytest.mark.parametrize("setting", ["HUB_ARCHIVE_URL", "HUB_ARCHIVE_DIR"])
def test_a_local_archive_stays_the_default(setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_project.definitions import archive_url
    for name in ("HUB_ARCHIVE_URL", "HUB_ARCHIVE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub"))
    assert archive_url() == str(tmp_path / "hub" / "archive")
    monkeypatch.setenv(setting, str(tmp_path / "elsewhere"))
    assert archive_url() == str(tmp_path / "elsewhere") and not Archive(archive_url()).remote
    assert Archive(f"file://{tmp_path}/elsewhere").root == tmp_path / "elsewhere"  # a file:// URL is a local path
