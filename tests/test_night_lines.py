"""A night compares raw lines before parsing (hub/load/changed_lines.py): only lines that differ from the last applied
file are parsed, validated and staged, with their rows in the delivered file; whatever makes equal bytes another
record (header, encoding) or a line not a record (quoted line breaks) reads the whole file, and checks of the whole
file (footer counts, a truncated last line, repeated keys) still see every line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from demo.siras_files import students as synthetic_students
from hub.apply.audit import provenance
from hub.load import changed_lines
from hub.store.tables import students
from tests.harness import tick
from tests.test_night_changes import _changed, _staged, hub  # noqa: F401 (the opted-in hub fixture)
from tests.test_siras_pipeline import SENSOR, query

PREV, NEXT = "1964212_demographics_prev.csv", "1964212_demographics.csv"


def _text(frame: pd.DataFrame, end: str = "\n") -> str:
    return frame.to_csv(index=False, lineterminator=end)


def _put(landing: Path, name: str, data: bytes, age_seconds: float = 0) -> None:
    path = landing / name
    path.write_bytes(data)
    mtime = time.time() - age_seconds
    os.utime(path, (mtime, mtime))


def _two(defs, instance, landing, first: bytes, second: bytes):  # noqa: ANN001, ANN202
    _put(landing, PREV, first, age_seconds=7200)
    one = tick(defs, instance, SENSOR)
    assert [r.success for r in one.runs] == [True]
    _put(landing, NEXT, second)
    return tick(defs, instance, SENSOR, cursor=one.cursor)


def _first(n: int = 30) -> pd.DataFrame:
    return synthetic_students(n, "1964212").assign(Designation="SPED")


def _unchanged() -> list[tuple]:
    return query("SELECT u.rows FROM ops.unchanged_rows u JOIN ops.deliveries d ON d.delivery_id = u.delivery_id "
                 "WHERE d.file_name = :f", f=NEXT)


def _middle(ssid: str) -> str:
    return query("SELECT middle_name FROM core.students WHERE state_student_id = :s", s=ssid)[0][0]


@pytest.fixture(params=["read", "pass"])
def taken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the changed lines are taken from the delivered file: each read where it starts (few changed), or from a
    second pass over its lines (many changed: DENSE)."""
    if request.param == "pass":
        monkeypatch.setattr(changed_lines, "DENSE", 10**9)
    return request.param


def test_a_changed_line_keeps_its_row_and_line_in_the_delivered_file(hub, landing, taken):  # noqa: F811
    defs, instance = hub
    first = _first()
    lines = _text(_changed(first, [25])).splitlines(keepends=True)
    second = "".join([*lines[:12], "\n", *lines[12:]])  # a blank line after data row 11 (row 13)
    two = _two(defs, instance, landing, _text(first).encode(), second.encode())
    assert [r.success for r in two.runs] == [True]
    assert _staged(NEXT) == 1 and _unchanged() == [(29,)]
    assert query("SELECT source_row, source_line FROM staging.siras__demographics s JOIN ops.deliveries d ON "
                 "d.delivery_id = s.delivery_id WHERE d.file_name = :f", f=NEXT) == [(28, 28)]
    engine = sa.create_engine(os.environ["HUB_WAREHOUSE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        key = conn.execute(sa.select(students.c.student_key).where(
            students.c.state_student_id == first.loc[25, "SSID"])).scalar_one()
        grade = provenance(conn, students, "student_key", key)["grade"]
    assert (grade.file_name, grade.row, grade.run_id) == (NEXT, 28, two.runs[0].run_id)


def test_crlf_line_breaks_are_the_same_lines(hub, landing, taken):  # noqa: F811
    defs, instance = hub
    first = _first()
    two = _two(defs, instance, landing, _text(first).encode(), _text(_changed(first, [4]), "\r\n").encode())
    assert [r.success for r in two.runs] == [True]
    assert _staged(NEXT) == 1 and _unchanged() == [(29,)]


def test_another_header_line_reads_the_whole_file(hub, landing):  # noqa: F811
    defs, instance = hub
    first = _first()
    cols = list(first.columns)
    swapped = _changed(first, [4])[[cols[1], cols[0], *cols[2:]]]  # LOCAL_ID before SSID: other bytes, same rows
    two = _two(defs, instance, landing, _text(first).encode(), _text(swapped).encode())
    assert [r.success for r in two.runs] == [True]
    assert _staged(NEXT) == 30 and _unchanged() == []
    assert query("SELECT count(*) FROM ops.field_audit WHERE action = 'update'")[0][0] == 1


def test_another_encoding_reads_every_line_again(hub, landing):  # noqa: F811
    defs, instance = hub
    first = _first().assign(MIDDLE_NAME="")
    first.loc[3, "MIDDLE_NAME"] = "Núñez"
    second = first.copy()
    second.loc[5, "MIDDLE_NAME"] = "José"
    # the next file is cp1252 as a whole (one byte of row 5 is not UTF-8): row 3's unchanged bytes are other text now
    data = _text(second).encode("utf-8").replace("José".encode("utf-8"), "José".encode("cp1252"))
    two = _two(defs, instance, landing, _text(first).encode("utf-8"), data)
    assert [r.success for r in two.runs] == [True]
    assert _middle(first.loc[3, "SSID"]) == "Núñez".encode("utf-8").decode("cp1252")  # as a whole import reads it
    assert _middle(first.loc[5, "SSID"]) == "José"


def test_a_cp1252_file_reads_its_changed_lines_as_cp1252(hub, landing, taken):  # noqa: F811
    defs, instance = hub
    first = _first().assign(MIDDLE_NAME="")
    first.loc[3, "MIDDLE_NAME"] = "José"  # byte E9: the file is cp1252
    second = first.copy()
    second.loc[5, "MIDDLE_NAME"] = "JosÃ©"  # in cp1252 these are bytes C3 A9, which alone would read as UTF-8 "é"
    two = _two(defs, instance, landing, _text(first).encode("cp1252"), _text(second).encode("cp1252"))
    assert [r.success for r in two.runs] == [True]
    assert _staged(NEXT) == 1 and _unchanged() == [(29,)]
    assert _middle(first.loc[5, "SSID"]) == "JosÃ©"


@pytest.mark.parametrize("stated", [30, 31])
def test_a_footer_count_is_checked_against_the_whole_file(hub, landing, stated):  # noqa: F811
    defs, instance = hub
    first = _first()
    two = _two(defs, instance, landing, _text(first).encode(),
               (_text(_changed(first, [4])) + f"Total Records: {stated}\n").encode())
    assert [r.success for r in two.runs] == [stated == 30]
    if stated == 30:
        assert _staged(NEXT) == 1 and _unchanged() == [(29,)]
        assert query("SELECT row_count FROM ops.deliveries WHERE file_name = :f", f=NEXT) == [(30,)]
    else:
        reason = query("SELECT reason FROM ops.deliveries WHERE file_name = :f", f=NEXT)[0][0]
        assert "the footer on row 32 states 31 records; the file has 30" in reason


def test_a_short_last_line_without_a_line_break_is_a_truncated_file(hub, landing, taken):  # noqa: F811
    defs, instance = hub
    first = _first()
    cut = _text(_changed(first, [4])).rstrip("\n").rsplit(",", 3)[0]  # the upload stopped inside row 31
    two = _two(defs, instance, landing, _text(first).encode(), cut.encode())
    assert [r.success for r in two.runs] == [False]
    reason = query("SELECT reason FROM ops.deliveries WHERE file_name = :f", f=NEXT)[0][0]
    assert "truncated file (its last record, row 31" in reason
    assert _staged(NEXT) == 0


def test_a_line_delivered_twice_repeats_its_key(hub, landing):  # noqa: F811
    defs, instance = hub
    first = _first()
    second = pd.concat([_changed(first, [2]), first.iloc[[6]]], ignore_index=True)  # row 6's line again, unchanged
    two = _two(defs, instance, landing, _text(first).encode(), _text(second).encode())
    assert [r.success for r in two.runs] == [False]
    rows = query("SELECT row_number, column_name FROM ops.row_errors e JOIN ops.deliveries d ON d.delivery_id = "
                 "e.delivery_id WHERE d.file_name = :f ORDER BY 1", f=NEXT)
    assert rows == [(8, "ssid"), (32, "ssid")]


def test_a_quoted_line_break_reads_the_whole_file(hub, landing):  # noqa: F811
    defs, instance = hub
    first = _first().assign(MIDDLE_NAME="")
    second = _changed(first, [4])
    second.loc[9, "MIDDLE_NAME"] = "Ann\nMarie"  # one record on two lines
    two = _two(defs, instance, landing, _text(first).encode(), _text(second).encode())
    assert [r.success for r in two.runs] == [True]
    assert _middle(first.loc[9, "SSID"]) == "Ann\nMarie"
    assert query("SELECT grade FROM core.students WHERE state_student_id = :s", s=first.loc[4, "SSID"]) == \
        [(second.loc[4, "GRADE"],)]


@pytest.mark.parametrize("damage", ["removed", "altered"])
def test_base_digests_missing_or_altered_read_the_whole_file(hub, landing, damage):  # noqa: F811
    defs, instance = hub
    first = _first()
    _put(landing, PREV, _text(first).encode(), age_seconds=7200)
    one = tick(defs, instance, SENSOR)
    lines = Path(query("SELECT archive_path FROM ops.deliveries WHERE file_name = :f", f=PREV)[0][0] + ".lines")
    assert lines.stat().st_size == 30 * 3 * 8  # two digests and a key hash per row, beside the archived file
    if damage == "removed":
        lines.unlink()
    else:
        data = bytearray(lines.read_bytes())
        data[:8] = bytes(8)
        lines.write_bytes(bytes(data))
    _put(landing, NEXT, _text(_changed(first, [4])).encode())
    assert [r.success for r in tick(defs, instance, SENSOR, cursor=one.cursor).runs] == [True]
    assert _staged(NEXT) == 30 and _unchanged() == []


def test_base_digests_altered_during_the_night_stage_the_whole_file(hub, landing, monkeypatch):  # noqa: F811
    """The base's rows of the unchanged lines are read from its digests file again when the night's digests are
    written: a file altered since the lines were compared stages the night whole, never a base from two files."""
    defs, instance = hub
    first = _first()
    compare = changed_lines.Split.compare

    def compare_then_alter(self, base, rows, sha256):  # noqa: ANN001, ANN202
        found = compare(self, base, rows, sha256)
        data = bytearray(Path(base).read_bytes())
        data[:8] = bytes(8)
        Path(base).write_bytes(bytes(data))
        return found
    monkeypatch.setattr(changed_lines.Split, "compare", compare_then_alter)
    second = _changed(first, [4])
    two = _two(defs, instance, landing, _text(first).encode(), _text(second).encode())
    assert [r.success for r in two.runs] == [True]
    assert _staged(NEXT) == 30 and _unchanged() == []
    assert query("SELECT grade FROM core.students WHERE state_student_id = :s", s=first.loc[4, "SSID"]) == \
        [(second.loc[4, "GRADE"],)]


def test_digests_read_in_pieces_find_the_changed_lines_night_after_night(hub, landing, monkeypatch):  # noqa: F811
    """The base's digests are read a few rows at a time (a part spans several reads, a read several parts), and the
    digests a night writes back (the base's unchanged rows merged with its staged ones) serve the night after."""
    monkeypatch.setattr(changed_lines, "READ", 7)
    defs, instance = hub
    first = _first(300)
    second = _changed(first, [0, 150, 299])
    two = _two(defs, instance, landing, _text(first).encode(), _text(second).encode())
    assert [r.success for r in two.runs] == [True]
    assert _staged(NEXT) == 3 and _unchanged() == [(297,)]
    third = _changed(second, [42])
    _put(landing, "1964212_demographics_third.csv", _text(third).encode())
    three = tick(defs, instance, SENSOR, cursor=two.cursor)
    assert [r.success for r in three.runs] == [True]
    assert _staged("1964212_demographics_third.csv") == 1
    assert query("SELECT grade FROM core.students WHERE state_student_id = :s", s=first.loc[42, "SSID"]) == \
        [(third.loc[42, "GRADE"],)]
