"""Tests for hub.read.parsing: encodings, header aliases, ragged rows, row numbers, chunking, XLSX and XLS."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.read.errors import FileFormatError, RowError, TruncatedFile
from hub.read.headers import normalize_header
from hub.read.parsing import LINE, ROW, TEXT, TableReader, open_table

DATA_DIR = Path(__file__).parent / "data"
ALIASES = {
    "ssid": ["SSID"],
    "local_id": ["Local Student ID", "LOCAL_ID", "STUDENT_ID"],
    "last_name": ["Last Name", "LAST_NAME"],
    "first_name": ["First Name", "FIRST_NAME"],
    "birthdate": ["Birthdate", "BIRTHDATE", "DOB"],
}
# Same content as tests/data/students.xls (sheet "Students").
HEADERS = ["SSID", "Local Student ID", "Last_Name", "FIRST NAME", "Birthdate", "Notes"]
ROWS = [
    ["0012345", "0001", "José", "Ana", "20100102", "fine – really"],
    ["0099999", "", "O’Brien", "Zoë", "02/01/2010", ""],
    ["1234567", "42", "Nguyen", "", "", "x"],
]
EXPECTED = pd.DataFrame({
    "ssid": ["0012345", "0099999", "1234567"],
    "local_id": ["0001", "", "42"],
    "last_name": ["José", "O’Brien", "Nguyen"],
    "first_name": ["Ana", "Zoë", ""],
    "birthdate": ["20100102", "02/01/2010", ""],
    ROW: [2, 3, 4],
}).astype({"ssid": TEXT, "local_id": TEXT, "last_name": TEXT, "first_name": TEXT, "birthdate": TEXT})


def read_all(path: Path, aliases: dict = ALIASES, lines: bool = False, **kw) -> tuple[TableReader, pd.DataFrame]:
    """All rows of a file (without the CSV line numbers unless `lines`)."""
    reader = open_table(path, aliases, **kw)
    chunks = list(reader.chunks())
    assert all(len(c) <= reader.chunk_rows for c in chunks)
    df = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    return reader, df if lines else df.drop(columns=LINE, errors="ignore")


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def write_xlsx(path: Path, rows: list[list[object]], title: str = "Sheet") -> Path:
    book = openpyxl.Workbook()
    book.active.title = title
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_normalize_header() -> None:
    assert normalize_header("Local Student ID") == "localstudentid"
    assert normalize_header("LOCAL_ID") == "localid"
    assert normalize_header("\ufeffLocal-Student_ID ") == normalize_header(" local student id") == "localstudentid"


def test_same_data_in_every_encoding_and_format_parses_identically(tmp_path: Path) -> None:
    text = csv_text([HEADERS, *ROWS])
    paths = {
        "utf-8": write(tmp_path, "u.csv", text.encode("utf-8")),
        "utf-8-sig": write(tmp_path, "bom.csv", text.encode("utf-8-sig")),
        "cp1252": write(tmp_path, "win.csv", text.encode("cp1252")),
        "xlsx": write_xlsx(tmp_path / "s.xlsx", [HEADERS, *ROWS]),
        "xls": DATA_DIR / "students.xls",
    }
    for encoding, path in paths.items():
        reader, df = read_all(path)
        assert reader.encoding == encoding, path
        assert reader.columns["last_name"] == "Last_Name" and reader.columns["ssid"] == "SSID"
        assert reader.unmatched_headers == ["Notes"]
        pd.testing.assert_frame_equal(df, EXPECTED, obj=encoding)
        again = pd.concat(reader.chunks(), ignore_index=True).drop(columns=LINE, errors="ignore")
        pd.testing.assert_frame_equal(again, EXPECTED, obj="second pass")
        assert df["ssid"].dtype == "string" and df[ROW].dtype == "int64"


def test_headers_matched_case_space_underscore_insensitively(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "ssid ,LOCAL-STUDENT-ID,last name,Extra Col,,DOB\n1,2,3,4,,5\n")
    reader, df = read_all(path)
    assert reader.columns == {"ssid": "ssid", "local_id": "LOCAL-STUDENT-ID", "last_name": "last name", "birthdate": "DOB"}
    assert reader.unmatched_headers == ["Extra Col"]
    assert list(df.columns) == ["ssid", "local_id", "last_name", "birthdate", ROW]
    assert df.iloc[0].tolist() == ["1", "2", "3", "5", 2]


@pytest.mark.parametrize("header", ["SSID,ssid", "LOCAL_ID,Student_ID", "Local Student ID,local_student_id"])
def test_duplicate_headers_after_normalization_rejected(tmp_path: Path, header: str) -> None:
    first, second = header.split(",")
    with pytest.raises(FileFormatError) as err:
        open_table(write(tmp_path, "dup.csv", f"{header}\n1,2\n"), ALIASES)
    assert first in str(err.value) and second in str(err.value) and "dup.csv" in str(err.value)


def test_alias_given_for_two_columns_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two columns"):
        open_table(write(tmp_path, "a.csv", "x\n1\n"), {"a": ["ID"], "b": ["id"]})


@pytest.mark.parametrize("content", ["", "\n\n", ",,,\n1,2,3\n", "\ufeff"])
def test_empty_file_or_missing_header_rejected(tmp_path: Path, content: str) -> None:
    with pytest.raises(FileFormatError, match="empty.csv"):
        open_table(write(tmp_path, "empty.csv", content), ALIASES)


def test_unsupported_type_missing_file_missing_sheet(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="unsupported"):
        open_table(write(tmp_path, "x.json", "{}"), ALIASES)
    with pytest.raises(FileFormatError, match="no such file"):
        open_table(tmp_path / "nope.csv", ALIASES)
    with pytest.raises(FileFormatError, match="no sheet"):
        open_table(write_xlsx(tmp_path / "s.xlsx", [["SSID"]]), ALIASES, sheet="Other")
    with pytest.raises(FileFormatError, match="not a readable XLSX"):
        open_table(write(tmp_path, "bad.xlsx", "not a zip"), ALIASES)


def test_leading_zeros_blanks_and_row_numbers_with_multiline_cell(tmp_path: Path) -> None:
    content = 'SSID,Notes,DOB\n0012345,"line one\nline two\n",\n\n  ,  ,\n0000001,, 20100102 \n007,"x\r",\n'
    _, df = read_all(write(tmp_path, "m.csv", content))
    assert df["ssid"].tolist() == ["0012345", "0000001", "007"]
    assert df["birthdate"].tolist() == ["", "20100102", ""]
    assert df[ROW].tolist() == [2, 5, 6]  # row 3 blank line, row 4 whitespace-only: skipped but counted


def test_crlf_line_endings_leave_no_carriage_return(tmp_path: Path) -> None:
    _, df = read_all(write(tmp_path, "crlf.csv", "SSID,DOB\r\n1,20100102\r\n2,\r\n"))
    assert df["birthdate"].tolist() == ["20100102", ""] and df[ROW].tolist() == [2, 3]


@pytest.mark.parametrize("delimiter", ["\t", "|", ";", "^", ","])
def test_delimiter_detected_from_header(tmp_path: Path, delimiter: str) -> None:
    rows = [["SSID", "Last Name", "DOB"], ["01", "Smith, Jr.", "20100102"]]
    reader, df = read_all(write(tmp_path, "d.txt", csv_text(rows, delimiter)))
    assert reader.delimiter == delimiter
    assert df.iloc[0].tolist() == ["01", "Smith, Jr.", "20100102", 2]


@pytest.mark.parametrize(("content", "expected", "bad"), [
    # an unquoted comma in a name: the value must not move into the next column
    ("SSID,Last Name,DOB\n1,Smith, Jr.,20100102\n2,Ng,20100103\n", 3, {2: 4}),
    ("SSID,Last Name,DOB\n1,Smith, Jr.,\n2,Ng,20100103\n", 3, {2: 4}),  # the shifted value lands in a blank
    ("SSID,DOB,Notes\n1,d1,n,\n2,d2,n,,,\n3,d3\n4,d4,n\n", 3, {2: 4, 3: 6, 4: 2}),  # never padded
    ("SSID,DOB,Notes,,\n1,d1,n\n2,d2,n,,,\n3,d3,,,\n4,d4,n,,\n", 5, {2: 3, 3: 6}),
    ("SSID,DOB,Notes\r\n1,d1,n,\r\n2,d2,n\r\n3,d3\r\n4,d4,n\r\n", 3, {2: 4, 4: 2}),
])
def test_records_with_another_field_count_are_row_errors_never_shifted_or_padded(
        tmp_path: Path, content: str, expected: int, bad: dict[int, int]) -> None:
    for chunk_rows in (1, 2, 100):
        reader, df = read_all(write(tmp_path, "r.csv", content), chunk_rows=chunk_rows)
        good = [r for r in range(2, 6) if r not in bad and r - 2 < content.count("\n") - 1]
        assert df[ROW].tolist() == good
        assert df["ssid"].tolist() == [str(r - 1) for r in good]
        assert [(e.row_number, e.line, e.column, e.rule) for e in reader.take_errors()] == [
            (r, r, "*", f"wrong field count (expected {expected}, found {n})") for r, n in sorted(bad.items())]
        assert reader.records == len(good) + len(bad)


@pytest.mark.parametrize(("content", "lines"), [('SSID,DOB\n1,"a\nb"\n3,4\n5,6\n', [2, 4, 5]),
                                               ('SSID,DOB\r\n1,"a\r\nb"\r\n3,"c\rd"\r\n5,6\r\n', [2, 4, 6])])
def test_rows_are_spreadsheet_rows_and_lines_are_where_records_start(tmp_path: Path, content: str,
                                                                     lines: list[int]) -> None:
    for chunk_rows in (1, 100):  # Arrow reads these
        reader, df = read_all(write(tmp_path, "w.csv", content), chunk_rows=chunk_rows, lines=True)
        assert df["ssid"].tolist() == ["1", "3", "5"] and df[ROW].tolist() == [2, 3, 4] and df[LINE].tolist() == lines
    # the csv module reads this one (a record of another field count)
    reader, df = read_all(write(tmp_path, "w.csv", content.replace("5,6", "5,6,SECRET")), lines=True)
    assert df[LINE].tolist() == lines[:2] and [(e.row_number, e.line) for e in reader.take_errors()] == [(4, lines[2])]


def test_multiline_header_wider_than_any_physical_line(tmp_path: Path) -> None:
    # 5 header cells (2 blank), at most 4 on a line: pandas would make an index of the first column
    reader, df = read_all(write(tmp_path, "mh.csv", 'Notes,"Local\nID",SSID,,\nn,1,,,\n,2,,,\n'), lines=True)
    assert reader.columns == {"local_id": "Local\nID", "ssid": "SSID"} and reader.unmatched_headers == ["Notes"]
    assert df.to_dict("list") == {"local_id": ["1", "2"], "ssid": ["", ""], ROW: [2, 3], LINE: [3, 4]}


def test_rows_after_an_irregular_multiline_row_are_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, "re.csv", 'SSID,DOB\n1,2\n3,4\n5,"a\nb",\n7,8\n9,10\n')
    for chunk_rows in (1, 2, 3, 100):
        reader, df = read_all(path, chunk_rows=chunk_rows, lines=True)
        assert df.to_dict("list") == {"ssid": ["1", "3", "7", "9"], "birthdate": ["2", "4", "8", "10"],
                                      ROW: [2, 3, 5, 6], LINE: [2, 3, 6, 7]}
        assert [(e.row_number, e.line) for e in reader.take_errors()] == [(4, 4)]


@pytest.mark.parametrize(("content", "rows"), [
    ("SSID,DOB\n1,2,SECRET\n3,4\n", [2]),
    ("SSID,DOB\n1,2\n3,4,,SECRET\n", [3]),
    ('SSID,DOB\n1,"a\nb"\n3,4,,,,,\n5,6,,,,,,,,SECRET\n', [3, 4]),  # a quoted multi-line cell is one row
    ("SSID,DOB,,\n1,2,,\n3,4,,SECRET\n", [3]),  # a value under no header
])
def test_overlong_row_names_the_row_not_the_value(tmp_path: Path, content: str, rows: list[int]) -> None:
    for chunk_rows in (1, 100):
        reader, df = read_all(write(tmp_path, "long.csv", content), chunk_rows=chunk_rows)
        errors = reader.take_errors()
        assert [e.row_number for e in errors] == rows and not set(rows) & set(df[ROW].tolist())
        assert "SECRET" not in repr(errors) and "SECRET" not in df.to_string()


def test_unterminated_quote_and_bad_cp1252_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="q.csv") as err:
        list(open_table(write(tmp_path, "q.csv", 'SSID\n"SECRET\n1\n'), ALIASES).chunks())
    assert "SECRET" not in str(err.value)
    with pytest.raises(FileFormatError, match="b.csv: not valid cp1252"):
        list(open_table(write(tmp_path, "b.csv", b"SSID\n\x81\n"), ALIASES).chunks())
    with pytest.raises(FileFormatError, match="h.csv: not valid cp1252"):
        open_table(write(tmp_path, "h.csv", b"SS\x81ID\n1\n"), ALIASES)
    reader = open_table(write(tmp_path, "late.csv", b"SSID\n" + b"1\n" * 300_000 + b"\x81\n"), ALIASES)
    with pytest.raises(FileFormatError, match="late.csv: not valid cp1252"):
        list(reader.chunks())


def test_encoding_detected_from_bytes_after_first_block(tmp_path: Path) -> None:
    content = ("SSID\n" + "1\n" * 700_000).encode() + "O’Brien\n".encode("cp1252")
    assert open_table(write(tmp_path, "late.csv", content), ALIASES).encoding == "cp1252"


cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=2, max_size=2), max_size=12), data=st.data())
def test_chunking_yields_the_same_rows_as_one_chunk(tmp_path: Path, rows: list[list[str]], data: st.DataObject) -> None:
    path = write(tmp_path, "p.csv", csv_text([["SSID", "Notes"], *rows]))
    chunk_rows = data.draw(st.integers(1, len(rows) + 2))
    _, whole = read_all(path)
    _, chunked = read_all(path, chunk_rows=chunk_rows)
    expected = [(r[0].strip(), i) for i, r in enumerate(rows, start=2) if r[0].strip() or r[1].strip()]
    got = list(zip(chunked["ssid"], chunked[ROW])) if len(chunked) else []
    assert got == expected
    pd.testing.assert_frame_equal(whole, chunked)


def test_xlsx_cell_values_become_text(tmp_path: Path) -> None:
    rows = [
        ["SSID", "Birthdate", "Score", "Flag", "Local Student ID", None],
        [123, dt.datetime(2010, 1, 2, 13, 5), 4.05, True, "  0007 ", None],
        [123.0, dt.date(1999, 12, 31), 1e20, False, None],
        [None, None, None, None, None],
        ["5", None, None, None, None, None],
        [None, " ", None],
        [None],
    ]
    reader, df = read_all(write_xlsx(tmp_path / "t.xlsx", rows), {**ALIASES, "score": ["Score"], "flag": ["flag"]},
                          chunk_rows=2)
    assert reader.encoding == "xlsx"
    assert df.to_dict("list") == {
        "ssid": ["123", "123", "5"], "birthdate": ["20100102", "19991231", ""], "score": ["4.05", str(10**20), ""],
        "flag": ["TRUE", "FALSE", ""], "local_id": ["0007", "", ""], ROW: [2, 3, 5],
    }


def test_xlsx_sheet_selection_and_overlong_row(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Nothing"])
    other = book.create_sheet("Students")
    for row in (["SSID", "DOB"], ["01", "20100102"], ["02", "20100103", None, "SECRET"]):
        other.append(row)
    book.save(path)
    assert open_table(path, ALIASES).unmatched_headers == ["Nothing"]
    reader, df = read_all(path, sheet="Students", chunk_rows=1)
    assert df[ROW].tolist() == [2] and LINE not in df
    assert reader.take_errors() == [RowError(3, "*", "wrong field count (expected 2, found 4)")]


def test_xls_typed_sheet() -> None:
    reader, df = read_all(DATA_DIR / "students.xls", {"ssid": ["SSID"], "dob": ["Birthdate"], "score": ["Score"],
                                                      "flag": ["Flag"], "note": ["Note"]}, sheet="Typed")
    assert reader.encoding == "xls"
    assert df.to_dict("list") == {"ssid": ["123", "7"], "dob": ["20100102", ""], "score": ["4.05", ""],
                                  "flag": ["TRUE", ""], "note": ["padded", ""], ROW: [2, 4]}


def test_no_matched_columns_still_gives_row_numbers(tmp_path: Path) -> None:
    for path in (write(tmp_path, "n.csv", "Other\nx\n\ny\n"), write_xlsx(tmp_path / "n.xlsx", [["Other"], ["x"], [], ["y"]])):
        reader, df = read_all(path)
        assert reader.columns == {} and reader.unmatched_headers == ["Other"]
        assert df.columns.tolist() == [ROW] and df[ROW].tolist() == [2, 4]


def test_irregular_row_after_several_arrow_blocks_continues_without_losing_or_repeating_rows(tmp_path: Path) -> None:
    # > 1 Arrow block of regular rows, then a short row: rows already read stay, pandas takes over after them
    regular = 400_000
    lines = [f"{1_000_000 + i},2010{i % 12 + 1:02d}01" for i in range(regular)]
    content = "SSID,DOB\n" + "\n".join(lines) + "\n7\n8,20100102\n"
    reader, df = read_all(write(tmp_path, "big.csv", content + "9,20100103,SECRET\n"), chunk_rows=50_000, lines=True)
    assert len(df) == regular + 1 and df[ROW].tolist() == [*range(2, regular + 2), regular + 3]
    assert df[LINE].tolist() == df[ROW].tolist() and df["ssid"].iloc[-1] == "8"
    assert [(e.row_number, e.rule) for e in reader.take_errors()] == [
        (regular + 2, "wrong field count (expected 2, found 1)"), (regular + 4, "wrong field count (expected 2, found 3)")]


@pytest.mark.parametrize("content", [
    "SSID,Last Name,DOB\n1,Ng,20100102\n2,Smi",  # cut mid-record, no line end
    'SSID,Last Name,DOB\n1,Ng,20100102\n2,"Smith\nJones',  # cut inside a quoted value
    'SSID,Last Name,DOB\n1,Ng,20100102\n2,"Smith\n',  # cut inside a quoted value, after a line break
])
def test_truncated_upload_is_a_truncated_file_not_a_row(tmp_path: Path, content: str) -> None:
    for chunk_rows in (1, 100):
        reader = open_table(write(tmp_path, "cut.csv", content), ALIASES, chunk_rows=chunk_rows)
        with pytest.raises(TruncatedFile, match=r"cut.csv: truncated file \(.*row 3") as err:
            list(reader.chunks())
        assert "Smi" not in str(err.value) and err.value.row == 3


def test_a_whole_last_record_without_a_line_end_is_not_truncated(tmp_path: Path) -> None:
    reader, df = read_all(write(tmp_path, "end.csv", "SSID,DOB\n1,20100102\n2,20100103"))
    assert df["ssid"].tolist() == ["1", "2"] and reader.take_errors() == []


@pytest.mark.parametrize("footer", ["Total Records: 2\n", "Total Records,2,\n", "END OF FILE\n", ",,\n,,\n",
                                    "\nTOTAL ROWS = 2\nEOF\n", "Record Count: 2", "end of report,,\n"])
def test_footers_after_the_data_are_not_rows(tmp_path: Path, footer: str) -> None:
    for path in (write(tmp_path, "foot.csv", "SSID,DOB,Notes\n1,20100102,\n2,20100103,x\n" + footer),
                 write_xlsx(tmp_path / "foot.xlsx", [["SSID", "DOB", "Notes"], ["1", "20100102"], ["2", "20100103", "x"],
                                                     *[[c or None for c in line.split(",")]
                                                       for line in footer.strip().splitlines()]])):
        reader, df = read_all(path)
        assert df["ssid"].tolist() == ["1", "2"] and df[ROW].tolist() == [2, 3]
        assert reader.take_errors() == [] and reader.records == 2


@pytest.mark.parametrize("footer", ["Total Records: 57\n", "Total Records,3,,\n", "Record count = 1"])
def test_a_footer_stating_another_count_means_a_truncated_file(tmp_path: Path, footer: str) -> None:
    for path in (write(tmp_path, "foot.csv", "SSID,DOB,Notes\n1,20100102,\n2,20100103,x\n" + footer),
                 write_xlsx(tmp_path / "foot.xlsx", [["SSID", "DOB", "Notes"], ["1", "20100102"], ["2", "20100103"],
                                                     footer.strip().split(",")])):
        with pytest.raises(TruncatedFile, match=r"truncated file \(the footer on row 4 states \d+ records; the file "
                                                r"has 2\)"):
            read_all(path)


def test_footer_words_before_more_data_are_rows(tmp_path: Path) -> None:
    reader, df = read_all(write(tmp_path, "mid.csv", "SSID,DOB\n1,20100102\nTotal Records: 1\n,\n2,20100103\n"))
    assert df["ssid"].tolist() == ["1", "2"] and df[ROW].tolist() == [2, 5]
    assert reader.take_errors() == [RowError(3, "*", "wrong field count (expected 2, found 1)", 3)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.text(st.sampled_from('ab ,"\n\r'), max_size=5), min_size=2, max_size=2),
                     min_size=1, max_size=10), data=st.data())
def test_rows_and_lines_are_the_same_on_both_read_paths(tmp_path: Path, rows: list[list[str]],
                                                        data: st.DataObject) -> None:
    """Arrow (regular files) and the csv module (after an irregular record) agree on rows, lines and values; a
    record of another field count is reported and leaves the others as written."""
    bad = data.draw(st.none() | st.integers(0, len(rows) - 1))
    records, line = [], 2
    for i, r in enumerate(rows, start=2):
        text = csv_text([["1", *r, "x"] if bad == i - 2 else ["1", *r]])
        records.append((i, line, text))
        line += len(re.findall(r"\r\n|\r|\n", text))  # the record's own line end and those in its values
    path = write(tmp_path, "l.csv", "SSID,Notes,DOB\r\n" + "".join(t for _, _, t in records))
    reader, df = read_all(path, lines=True, chunk_rows=data.draw(st.integers(1, 4)))
    expected = [(i, ln) for i, ln, _ in records if bad != i - 2]
    assert (list(zip(df[ROW], df[LINE])) if len(df) else []) == expected
    assert (df["ssid"].tolist() if len(df) else []) == ["1"] * len(expected)
    assert (df["birthdate"].tolist() if len(df) else []) == [rows[i - 2][1].strip() for i, _ in expected]
    errors = reader.take_errors()
    assert [(e.row_number, e.line) for e in errors] == ([] if bad is None else [records[bad][:2]])
