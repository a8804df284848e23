"""What a district data coordinator sees in the Dagster UI, in a real browser (Debian chromium + chromedriver,
driven by selenium) on the demo: one night's deliveries run by the hub (a good SIRAS file, a blocked one, EdReflect
days with a gap), then `dagster dev` whose sensors meet a file waiting for a blackout (the closest to a held
dependency until feeds declare dependencies), a re-upload with identical bytes and a stale file.

Every wait is on a condition (a GraphQL answer, a text on the page); screenshots go to $TMPDIR/hub-ui and are the
ones docs/ui.md shows."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pandas as pd
import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from dagster_project.definitions import PROJECT_ROOT, build_definitions
from demo.siras_files import students
from tests.conftest import need
from tests.harness import reason_of, tick
from tests.loopback import dagster_dev, graphql

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SHOTS = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "hub-ui"
LOCATION = "k12_data_hub"
KEEP = ("siras_abc_unified", "siras_santa_ana_unified", "edreflect_fresno_unified")
DAY = 86_400
TICKS = """query Ticks($name: String!) { sensorOrError(sensorSelector: {repositoryLocationName: "k12_data_hub",
  repositoryName: "__repository__", sensorName: $name}) { ... on Sensor { sensorState { ticks(limit: 20) {
  skipReason } } } } }"""


@dataclass
class Night:
    """The demo after one night: where the UI is and which partitions hold which outcome."""

    url: str
    good: str  # partition keys (date|district)
    blocked: str
    blocked_run: str
    held: str


def _registry(demo: Path) -> None:
    """The demo registry with three integrations on (the others would only slow the test), files stable at once,
    one sensor tick each (the next an hour later: the pages stay still) and Santa Ana in a blackout from two days
    before today to two days after (today in any timezone, even if the test runs across midnight)."""
    reg = yaml.safe_load((demo / "registry.yaml").read_text())
    today = dt.date.today()
    for i in reg["integrations"]:
        i.update(enabled=i["id"] in KEEP, quiet_period_seconds=0, poll_seconds=3600)
        if i["id"] == "siras_santa_ana_unified":
            i["blackouts"] = [{"start": str(today - dt.timedelta(days=2)), "end": str(today + dt.timedelta(days=2)),
                               "reason": "SIS rollover"}]
    (demo / "registry.yaml").write_text(yaml.safe_dump(reg, sort_keys=False))


def _put(path: Path, frame: pd.DataFrame, age_seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    mtime = time.time() - age_seconds
    os.utime(path, (mtime, mtime))


def _night(root: Path, env: dict[str, str]) -> tuple[str, str, str, str]:
    """Run the night's deliveries as the sensors' runs (in process, into the same Dagster home)."""
    land = root / ".hub" / "landing"
    _put(land / "abc_unified" / "1964212_demographics.csv", students(40, "1964212", seed=0), 60)
    _put(land / "abc_unified" / "1062166_demographics.csv", students(40, "1964212", seed=1), DAY)  # Fresno's code
    _put(land / "santa_ana_unified" / "3066670_demographics.csv", students(20, "3066670", seed=2), 60)
    for n, age in ((1, 2 * DAY), (3, 60)):  # EdReflect changes of two days; the day between is missing
        ids = [f"OG{n}{k:03d}" for k in range(3)]
        day = f"2026-08-0{n}"  # the export's own day, its folder's name: fixed, not the clock's (the demo starts 08-01)
        _put(land / "edreflect_fresno_unified" / day / "Observation_Modified.csv",
             pd.DataFrame({"observation_group_id": ids, "observation_modified_date": day}), age)
        _put(land / "edreflect_fresno_unified" / day / "Observations.csv",
             pd.DataFrame({"observation_group_id": ids, "observation_status": "open", "school_year": "2026",
                           "school_year_id": "17"}), age)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        for k in ("HUB_WAREHOUSE_URL", "HUB_ARCHIVE_DIR"):
            mp.delenv(k, raising=False)
        defs = build_definitions(root / "demo" / "registry.yaml")
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            siras = tick(defs, instance, "siras__deliveries").runs
            edreflect_runs = tick(defs, instance, "edreflect__deliveries").runs
    assert [r.success for r in siras] == [False, True]  # the older, blocked day first
    assert [r.success for r in edreflect_runs] == [True, True]
    held = [r for r in edreflect_runs if "held" in r.asset_materializations_for_node("edreflect__changes")[0].metadata]
    assert len(held) == 1
    good, blocked = siras[1], siras[0]
    return (good.dagster_run.tags["dagster/partition"], blocked.dagster_run.tags["dagster/partition"],
            blocked.run_id, held[0].dagster_run.tags["dagster/partition"])


def _wait(what: str, condition, timeout: float = 300, every: float = 1.0):  # noqa: ANN001, ANN202
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = condition()
        except OSError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(every)


def _skip_reasons(port: int, sensor: str) -> list[str]:
    """The sensor's ticks' skip reasons, newest first (none while the code location loads)."""
    state = graphql(port, TICKS, name=sensor)["sensorOrError"].get("sensorState") or {"ticks": []}
    return [t["skipReason"] or "" for t in state["ticks"]]


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        need("Debian chromium and chromedriver (apt-get install chromium chromium-driver)")
    root = tmp_path_factory.mktemp("ui")
    shutil.copytree(PROJECT_ROOT / "demo", root / "demo")
    _registry(root / "demo")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home), "HUB_REGISTRY": str(root / "demo" / "registry.yaml"),
           "HUB_HOME": str(root / ".hub")}
    good, blocked, blocked_run, held = _night(root, env)
    abc = root / ".hub" / "landing" / "abc_unified"  # after the night: a re-upload and a file a month old
    shutil.copy(abc / "1964212_demographics.csv", abc / "1964212_demographics_resent.csv")
    _put(abc / "1964212_demographics_old.csv", students(40, "1964212", seed=3), 30 * DAY)
    run_env = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    for k in ("HUB_WAREHOUSE_URL", "HUB_ARCHIVE_DIR"):
        run_env.pop(k, None)
    with dagster_dev(run_env) as server:
        port = server.port
        _wait("the webserver", lambda: graphql(port, "{ version }"))
        graphql(port, "mutation { setNuxSeen }")  # no community pop-up over the pages
        _wait("the Santa Ana sensor's tick", lambda: any(
            "waiting: paused (SIS rollover" in (reason_of(r, "siras_santa_ana_unified") or "")
            for r in _skip_reasons(port, "siras__deliveries")))
        _wait("the ABC sensor's tick", lambda: any(
            "identical bytes" in (abc := reason_of(r, "siras_abc_unified") or "")
            and "skipped: last modified more than 7 days ago" in abc for r in _skip_reasons(port, "siras__deliveries")))
        SHOTS.mkdir(parents=True, exist_ok=True)
        yield Night(f"http://127.0.0.1:{port}", good, blocked, blocked_run, held)


@pytest.fixture(scope="module")
def browser(night: Night) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="hub-ui-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1440,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(browser, url: str, *texts: str) -> str:  # noqa: ANN001
    """Load `url` and wait until the page shows every text; returns the page's text."""
    browser.get(url)
    return _wait(f"{texts} on {url}", lambda: (t := browser.find_element("tag name", "body").text)
                 and all(x in t for x in texts) and t, timeout=60, every=0.5)


def _shot(browser, name: str, show: str | None = None) -> None:  # noqa: ANN001
    """Save a screenshot, first scrolling the element whose text is `show` to the middle of the page."""
    if show:
        element = browser.find_element("xpath", f"//*[text()={show!r}]")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    browser.save_screenshot(str(SHOTS / f"{name}.png"))


def _partition(night: Night, asset: str, key: str) -> str:
    return f"{night.url}/assets/{asset}?view=partitions&partition={quote(key)}"


def _tick_dialog(browser, night: Night, sensor: str, expected: str, name: str) -> None:  # noqa: ANN001
    """Open the sensor's page and the tick whose skip reason says `expected` (older ticks are further down)."""
    _open(browser, f"{night.url}/locations/{LOCATION}/sensors/{sensor}", "0 runs requested")
    links = _wait("the ticks table", lambda: browser.find_elements(  # the text may show before the table does
        "xpath", "//td//button[.//*[text()='0 runs requested']] | //td//button[text()='0 runs requested']"),
        timeout=60, every=0.5)
    for link in reversed(links):
        link.click()
        dialog = _wait("the tick dialog", lambda: "Skip reason:" in browser.find_element("tag name", "body").text
                       and browser.find_element("tag name", "body").text, timeout=30, every=0.3)
        if expected in dialog:
            _shot(browser, name)
            return
        browser.find_element("xpath", "//button[.//*[text()='Close'] or text()='Close']").click()
    pytest.fail(f"no tick of {sensor} says {expected!r}")


def test_waiting_duplicate_and_stale_files_are_told_by_the_sensor(night, browser):
    """One sensor per feed: its tick names each integration with what it waited for."""
    _tick_dialog(browser, night, "siras__deliveries", "waiting: paused (SIS rollover", "waiting")
    _tick_dialog(browser, night, "siras__deliveries", "re-uploaded with identical bytes (no run)",
                 "duplicate_stale")


def test_partitions_page_shows_the_blocked_day_failed_and_the_good_day_materialized(night, browser):
    _open(browser, f"{night.url}/assets/siras/demographics?view=partitions", "Failed (1)", "Materialized (1)")
    _shot(browser, "partitions")
    _open(browser, _partition(night, "siras/demographics", night.blocked), night.blocked,
          "failed, and did not materialize this asset", "Latest materialization\nNone")
    _shot(browser, "blocked")
    _open(browser, _partition(night, "siras/demographics", night.good), night.good, "Materialized", "rows read")


def test_checks_are_per_partition_and_a_good_day_does_not_mask_the_blocked_one(night, browser):
    _open(browser, f"{night.url}/assets/siras/demographics?view=checks&checkDetail=district", "district")
    browser.find_elements("xpath", "//*[text()='Partitions']")[-1].click()  # the check's tab, not the asset's
    _wait("the check's partitions", lambda: all(s in browser.find_element("tag name", "body").text
                                                for s in ("\nFailed (1)", "Passed (1)")), timeout=60, every=0.5)
    _shot(browser, "check_partitions")


def test_blocked_run_says_why(night, browser):
    _open(browser, f"{night.url}/runs/{night.blocked_run}", "STEP_FAILURE",
          "1062166_demographics.csv was blocked: district: file names district code 1062166")
    _shot(browser, "blocked_run", "STEP_FAILURE")


def test_good_delivery_shows_row_counts_row_errors_log_and_fields_changed(night, browser):
    _open(browser, _partition(night, "siras/demographics", night.good), "rows read\n40", "rows rejected\n0",
          "row errors (first 500)", "row line column rule",  # the row-error table (empty: every row passed)
          "import log text (demographics)", "file: 1964212_demographics.csv")
    _shot(browser, "applied_file", "row errors (first 500)")
    _open(browser, _partition(night, "siras/student_updates", night.good), "core.students rows inserted\n34",
          "fields changed (demographics)", "table action field records")
    _shot(browser, "applied", "fields changed (demographics)")


def test_held_day_says_what_it_waits_for(night, browser):
    _open(browser, _partition(night, "edreflect/changes", night.held), "days held", "held: the delivery of",
          "is missing")
    _shot(browser, "held", "days held")
