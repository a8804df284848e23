"""Fuzzy district gate: normalisation, matching decisions, loaders and the `hub districts match` CLI."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hub.cli.districts import MATCH_COLUMNS
from hub.cli.main import main
from hub.gates.district_match import DistrictMatcher, normalize_name
from hub.gates.district_records import DistrictRecord, load_district_records, load_nces_elsi, load_registry_districts

REPO = Path(__file__).resolve().parents[1]
NCES = REPO / "reference/nces_elsi_district_directory_2021-22.csv"
BELLEVILLE_NJ, BELLEVILLE_WI = "3401350", "5500990"



@pytest.fixture(scope="module")
def records() -> list[DistrictRecord]:
    return load_nces_elsi(NCES)


@pytest.fixture(scope="module")
def matcher(records: list[DistrictRecord]) -> DistrictMatcher:
    return DistrictMatcher(records)


def _accepted_leaid(matcher: DistrictMatcher, name: str, state: str | None) -> str | None:
    res = matcher.match(name, state)
    return res.best.leaid if res.decision == "accepted" and res.best else None


# --- normalisation -------------------------------------------------------------------------------------------

def test_belleville_spellings_normalise_alike() -> None:
    spellings = ["Belleville Public Schools", "BELLEVILLE SCHOOL DISTRICT", "Belleville PD", "Belleville S.D.",
                 "Belleville Public School District"]
    assert {normalize_name(s) for s in spellings} == {"belleville"}
    assert normalize_name("Belleville Twp SD") == normalize_name("Township of Belleville") == "belleville township"


@pytest.mark.parametrize(("a", "b"), [("Lincoln County SD #2", "LINCOLN COUNTY SCHOOL DISTRICT No. 2"),
                                      ("Adair Co. R-II", "ADAIR COUNTY R-2"), ("ABC USD", "ABC Unified"),
                                      ("A E R O Spec Educ Coop", "AERO Special Education Cooperative"),
                                      ("Cañon City", "CANON CITY")])
def test_abbreviations_numbers_and_accents_agree(a: str, b: str) -> None:
    assert normalize_name(a) == normalize_name(b)


@pytest.mark.parametrize(("a", "b"), [("Franklin City Public Schools", "Franklin County Public Schools"),
                                      ("Lincoln County SD #1", "Lincoln County SD #2"),
                                      ("Adair Co. R-I", "Adair Co. R-II"), ("Alton CUSD 11", "Alton CCSD 11"),
                                      ("Genesee ISD", "Genesee School District")])
def test_distinguishing_words_are_kept(a: str, b: str) -> None:
    assert normalize_name(a) != normalize_name(b)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_case_spacing_punctuation_never_change_the_key(records: list[DistrictRecord], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(records)).name
    variant = data.draw(st.sampled_from([str.upper, str.lower, str.title]))(name)
    variant = variant.replace(" ", data.draw(st.sampled_from([" ", "  "]))).replace("-", data.draw(
        st.sampled_from(["-", " "]))) + data.draw(st.sampled_from(["", ",", " .", " "]))
    assert normalize_name(variant) == normalize_name(name)


# --- matching ------------------------------------------------------------------------------------------------

def test_reference_file_has_belleville_nj(records: list[DistrictRecord]) -> None:
    nj = next(r for r in records if r.leaid == BELLEVILLE_NJ)
    assert (nj.name, nj.state) == ("BELLEVILLE PUBLIC SCHOOL DISTRICT", "NJ")


@pytest.mark.parametrize("name", ["Belleville Public Schools", "BELLEVILLE SCHOOL DISTRICT", "Belleville PD",
                                  "Belleville S.D.", "Belleville Twp SD", "Bellevile Public Schools"])
def test_belleville_spec_variants_resolve_to_nj(matcher: DistrictMatcher, name: str) -> None:
    assert _accepted_leaid(matcher, name, "NJ") == BELLEVILLE_NJ


def test_same_name_in_two_states_needs_the_state(matcher: DistrictMatcher) -> None:
    assert _accepted_leaid(matcher, "Belleville School District", "WI") == BELLEVILLE_WI
    assert _accepted_leaid(matcher, "Belleville School District", " nj ") == BELLEVILLE_NJ
    res = matcher.match("Belleville School District")
    assert res.decision == "review"
    assert {res.best.leaid, res.runner_up.leaid} == {BELLEVILLE_NJ, BELLEVILLE_WI}


@pytest.mark.parametrize(("name", "state", "leaid"), [
    ("Franklin City Schools", "VA", "5101410"), ("Franklin Co. Public Schools", "VA", "5101440"),
    ("Franklin Public Schools", "VA", None),  # city or county?
    ("Harlan Independent Schools", "KY", "2102520"), ("Harlan County", "KY", "2102540"), ("Harlan", "KY", None),
    ("Adair County R-1", "MO", "2922980"), ("Adair Co R-2", "MO", "2905790"), ("Adair County", "MO", None),
    ("Lincoln County SD No. 2", "WY", "5604060"), ("Lincoln County School District", "WY", None),
    ("Plainfield SD 22", "IL", None),  # scores 96 against PLAINFIELD SD 202, but the numbers differ
    ("Springfield Local Schools", "OH", None),  # three districts of that name in Ohio
])
def test_similar_districts_of_one_state_are_not_taken_for_each_other(
        matcher: DistrictMatcher, name: str, state: str, leaid: str | None) -> None:
    assert _accepted_leaid(matcher, name, state) == leaid


def test_a_qualifier_may_be_left_out_but_not_changed() -> None:
    county = DistrictRecord("5101440", "FRANKLIN COUNTY PUBLIC SCHOOLS", "VA")
    small = DistrictMatcher([county, DistrictRecord(BELLEVILLE_NJ, "BELLEVILLE PUBLIC SCHOOL DISTRICT", "NJ")])
    assert small.match("Franklin Public Schools", "VA").reason == "exact-core"
    assert small.match("Franklin City Public Schools", "VA").decision != "accepted"


def test_margin_and_threshold(matcher: DistrictMatcher, records: list[DistrictRecord]) -> None:
    res = matcher.match("Bellevile Public Schools", "NJ")  # a typo: no exact match
    assert (res.decision, res.reason, res.score >= 92, res.score - res.runner_up_score >= 6) == (
        "accepted", "fuzzy", True, True)
    nj = [r for r in records if r.state == "NJ"]
    assert DistrictMatcher(nj, accept=99).match("Bellevile Public Schools", "NJ").decision == "review"
    assert DistrictMatcher(nj, margin=res.score - res.runner_up_score + 1).match(
        "Bellevile Public Schools", "NJ").decision == "review"
    assert matcher.match("Nowhere Charter Academy", "NJ").decision == "rejected"
    assert matcher.match("Belleville", "ZZ").best is None


def test_confirmed_name_is_accepted_afterwards(matcher: DistrictMatcher, records: list[DistrictRecord]) -> None:
    assert matcher.match("SPRINGFIELD LOCAL SCHOOL DISTRICT", "OH").decision == "review"
    confirmed = {("OH", normalize_name("Springfield Local")): "3904837"}
    res = DistrictMatcher(records, confirmed=confirmed).match("SPRINGFIELD LOCAL SCHOOL DISTRICT", "OH")
    assert (res.decision, res.best.leaid, res.score, res.reason) == ("accepted", "3904837", 100.0, "confirmed")
    with pytest.raises(ValueError, match="9999999"):
        DistrictMatcher(records, confirmed={("OH", "springfield local"): "9999999"})


# --- loaders -------------------------------------------------------------------------------------------------

def test_nces_loader_keeps_leading_zeros_and_strips_state(records: list[DistrictRecord]) -> None:
    assert len(records) == 13815 and len({r.leaid for r in records}) == 13815
    assert all(len(r.leaid) == 7 and r.leaid.isdigit() for r in records)
    assert {len(r.state) for r in records} == {2} and len({r.state for r in records}) == 51
    abc = next(r for r in records if r.name == "ABC UNIFIED")
    assert (abc.leaid, abc.state, abc.aliases) == ("0601620", "CA", ())
    accomack = next(r for r in records if r.name == "ACCOMACK COUNTY PUBLIC SCHOOLS")
    assert accomack.aliases == ("ACCOMACK CO PBLC SCHS",)


RAW_ELSI = '''\ufeffELSI Export

National Center for Education Statistics - http://nces.ed.gov/ccd/elsi/

This is a District based table with the following filters applied: State(s) (All Years): CA, NJ, MN

Agency Name,State Name [District] Latest available year,State Abbr [District] Latest available year,\
Agency Name [District] 2021-22,Agency ID - NCES Assigned [District] Latest available year,Agency Type [District] 2021-22
ABC UNIFIED,California,CA ,ABC Unified,0601620,1-Regular local school district
BELLEVILLE PUBLIC SCHOOL DISTRICT,New Jersey,NJ ,Belleville Public School District,"=""3401350""",1-Regular
ZUMBRO EDUCATION DISTRICT,Minnesota,MN ,†,2700054,9-Specialized public school district
Totals:,†,†,†,n/a,†

Data Source: U.S. Department of Education National Center for Education Statistics Common Core of Data (CCD)

† indicates that the data are not applicable.
– indicates that the data are missing.
'''


def test_nces_loader_tolerates_preamble_totals_and_legend(tmp_path: Path) -> None:
    path = tmp_path / "ELSI_csv_export.csv"
    path.write_text(RAW_ELSI, encoding="utf-8")
    assert load_district_records(path) == [DistrictRecord("0601620", "ABC UNIFIED", "CA"),
                                           DistrictRecord("3401350", "BELLEVILLE PUBLIC SCHOOL DISTRICT", "NJ"),
                                           DistrictRecord("2700054", "ZUMBRO EDUCATION DISTRICT", "MN")]


REGISTRY = """\
integrations: []
districts:
  - id: belleville-nj
    name: Belleville Public School District
    nces_leaid: 3401350
    state: "NJ "
    aliases: [Belleville PD, BELLEVILLE SCHOOL DISTRICT]
    account_id: 107873
    sources: {renaissance: sftp}
  - id: abc-ca
    name: ABC Unified
    nces_leaid: 0601620
    state: ca
    account_id: null
"""


@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def test_registry_loader(registry: Path, tmp_path: Path) -> None:
    assert load_registry_districts(registry) == [
        DistrictRecord(BELLEVILLE_NJ, "Belleville Public School District", "NJ",
                       ("Belleville PD", "BELLEVILLE SCHOOL DISTRICT"), "107873"),
        DistrictRecord("0601620", "ABC Unified", "CA")]  # unquoted 0601620 is no octal int
    (bad := tmp_path / "bad.yaml").write_text("districts:\n  - name: X\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs name, state"):
        load_district_records(bad)
    with pytest.raises(ValueError, match="expected a .csv"):
        load_district_records(tmp_path / "districts.txt")


# --- CLI -----------------------------------------------------------------------------------------------------

def test_cli_name(capsys: pytest.CaptureFixture[str], registry: Path) -> None:
    assert main(["districts", "match", "--registry", str(NCES), "--name", "Belleville PD", "--state", "NJ"]) == 0
    out = capsys.readouterr().out
    assert "3401350  BELLEVILLE PUBLIC SCHOOL DISTRICT (NJ)  score 100.0" in out
    assert out.splitlines()[-1].split() == ["decision", "accepted"]
    assert main(["districts", "match", "--registry", str(registry), "--name", "Belleville PD"]) == 0
    assert "accepted" in capsys.readouterr().out


def test_cli_queries(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    queries = tmp_path / "queries.csv"
    queries.write_text("\ufeffName,State\nBelleville Public Schools,NJ\nABC USD,CA\nBelleville,\n", encoding="utf-8")
    assert main(["districts", "match", "--registry", str(NCES), "--queries", str(queries), "--accept", "95"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == MATCH_COLUMNS
    assert [(r["query_name"], r["query_state"], r["best_leaid"], r["decision"]) for r in rows] == [
        ("Belleville Public Schools", "NJ", BELLEVILLE_NJ, "accepted"), ("ABC USD", "CA", "0601620", "accepted"),
        ("Belleville", "", BELLEVILLE_NJ, "review")]
    assert rows[2]["runner_up_leaid"] == BELLEVILLE_WI and rows[2]["runner_up_score"] == "100.0"


@pytest.mark.parametrize("argv", [
    ["--registry", "/nonexistent/districts.csv", "--name", "Belleville"],
    ["--registry", str(Path(__file__)), "--name", "Belleville"],  # neither .csv nor .yaml
    ["--registry", str(NCES), "--queries", "/nonexistent/q.csv"],
    ["--registry", str(NCES), "--queries", str(NCES), "--state", "NJ"],
    ["--registry", str(NCES), "--name", "Belleville", "--accept", "120"],
])
def test_cli_bad_input_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["districts", "match", *argv]) == 2
    assert capsys.readouterr().err.startswith("hub: error: ")


def test_cli_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["districts", "match", "--registry", str(NCES)])  # neither --name nor --queries
    assert exc.value.code == 2
    assert main([]) == 2


def test_cli_as_a_process() -> None:
    cmd = [sys.executable, "-m", "hub.cli.main", "districts", "match", "--registry"]
    ok = subprocess.run([*cmd, str(NCES), "--name", "BELLEVILLE SCHOOL DISTRICT", "--state", "NJ"], cwd=REPO,
                        capture_output=True, text=True)
    assert ok.returncode == 0 and BELLEVILLE_NJ in ok.stdout
    bad = subprocess.run([*cmd, "/nonexistent/districts.csv", "--name", "x"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot read districts" in bad.stderr
