"""The registry is validated at load and the Dagster definitions built from it load."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import yaml

from dagster_project.definitions import PROJECT_ROOT, build_definitions, load_hub_registry
from feeds import FEEDS
from hub.registry.registry import RegistryError
from tests.conftest import CA_DISTRICTS, siras_integration, write_registry


def test_demo_registry_definitions_load():
    defs = build_definitions(PROJECT_ROOT / "demo" / "registry.yaml")
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"siras/demographics", "siras/demographics_504", "siras/student_updates"} <= keys
    sensors = {s.name for s in defs.sensors}
    siras = next(s for s in defs.sensors if s.name == "siras__deliveries")  # one delivery sensor per feed
    assert "of its 3 integration(s)" in siras.description  # the disabled SFTP one runs nothing
    spec = defs.resolve_assets_def(dg.AssetKey(["siras", "demographics"])).specs_by_key[dg.AssetKey(["siras", "demographics"])]
    assert spec.description and spec.owners and spec.group_name == "siras"
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"schema", "district"} <= checks


def test_catalog_is_readable_every_asset_described_owned_and_in_a_small_group():
    """hub_ops tables (dbt sources the hub writes) were anonymous stubs in 'default'; EdReflect put 60 assets in one
    group. Every asset of the demo now has a description, an owner and a kind, and no group has more than 20."""
    graph = build_definitions(PROJECT_ROOT / "demo" / "registry.yaml").resolve_asset_graph()
    nodes = [graph.get(k) for k in graph.get_all_asset_keys()]
    ops = {n.key.to_user_string(): n for n in nodes if n.key.path[0] == "hub_ops"}
    assert {"hub_ops/deliveries", "hub_ops/row_errors"} <= set(ops)
    assert all(n.group_name == "hub_ops" and n.description and n.owners and n.kinds for n in ops.values())
    bare = [n.key.to_user_string() for n in nodes if not (n.description and n.owners and n.kinds)]
    assert bare == []
    sizes = Counter(n.group_name for n in nodes)
    assert "default" not in sizes and max(sizes.values()) <= 20, sizes
    assert sum(v for g, v in sizes.items() if g.startswith("edreflect")) == 60


def test_partitions_are_district_by_day():
    defs = build_definitions(PROJECT_ROOT / "demo" / "registry.yaml")
    pdef = defs.resolve_assets_def(dg.AssetKey(["siras", "student_updates"])).partitions_def
    assert isinstance(pdef, dg.MultiPartitionsDefinition)
    assert pdef.get_partitions_def_for_dimension("district").get_partition_keys() == [
        "abc_unified", "fresno_unified", "santa_ana_unified"]


@pytest.mark.parametrize("mutate, named", [
    (lambda i: i.update(start_date="not a date"), ("siras_abc_unified", "start_date")),
    (lambda i: i["transport"].update(port="twenty-two"), ("siras_abc_unified", "transport.port")),
    (lambda i: i.update(district="nowhere"), ("siras_abc_unified", "district")),
    (lambda i: i.update(feed="sirass"), ("siras_abc_unified", "feed")),
    (lambda i: i.update(options={"designated_file": "GIFTED"}), ("siras_abc_unified", "options.designated_file")),
    (lambda i: i.update(timezone="Mars/Olympus"), ("siras_abc_unified", "timezone")),
    (lambda i: i.update(headers={"sex": ["Sex"]}), ("siras_abc_unified", "headers.sex")),
    (lambda i: i.update(file_patterns={"demographic": ["*.csv"]}), ("siras_abc_unified", "file_patterns.demographic")),
    (lambda i: i.update(stage_changes_only="sometimes"), ("siras_abc_unified", "stage_changes_only")),
    (lambda i: i.update(feed="edreflect", stage_changes_only=True), ("siras_abc_unified", "stage_changes_only")),
])
def test_bad_registry_entry_names_integration_and_field(tmp_path: Path, mutate, named):
    entry = siras_integration({"kind": "sftp", "host": "h", "port": 22, "username": "u",
                               "host_key": "ssh-ed25519 AAAA", "private_key_env": "K"})
    mutate(entry)
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [entry])
    with pytest.raises(RegistryError) as err:
        load_hub_registry(path)
    integration, field = named
    assert f"integration '{integration}'" in str(err.value) and f"field '{field}'" in str(err.value)


def test_unpinned_host_key_is_rejected_at_load(tmp_path: Path):
    entry = siras_integration({"kind": "sftp", "host": "h", "username": "u", "host_key": "", "private_key_env": "K"})
    with pytest.raises(RegistryError, match="transport.host_key"):
        load_hub_registry(write_registry(tmp_path / "r.yaml", CA_DISTRICTS, [entry]))


def test_dbt_marts_are_assets_downstream_of_the_feeds_with_tests_as_checks():
    graph = build_definitions(PROJECT_ROOT / "demo" / "registry.yaml").resolve_asset_graph()
    key = dg.AssetKey
    profile, health = key(["marts", "student_profile"]), key(["marts", "delivery_health"])
    # staging and intermediate models are ephemeral: the marts are the only dbt assets, each read by its own run
    assert {k for k in graph.get_all_asset_keys() if k.path[0].startswith("marts")} == {profile, health}
    assert {key(["siras", "student_updates"]), key(["siras", "demographics"]), key(["focus_roster", "enrollment"]),
            key(["peer", "student_fields"]), key(["classlink", "hub_students"]),
            key(["powerschool", "student_records"]), key(["renaissance_star", "assessments"])} <= graph.get(
        profile).parent_keys  # every feed the profile reads
    applies = {key([f.name, f.apply_asset]) for f in FEEDS.values()}
    assert applies - {key(["focus_roster", "roster_updates"])} <= graph.get(health).parent_keys  # every feed
    assert key(["focus_roster", "students"]) in graph.get(health).parent_keys
    for mart in (profile, health):
        assert graph.get(mart).automation_condition is not None
    checks = {c.to_user_string() for c in graph.asset_check_keys}
    assert "marts/student_profile:not_null_student_profile_student_key" in checks
    assert key(["hub", "integration_inventory"]) in graph.get_all_asset_keys()


def _secret_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) >= 8]


@pytest.mark.parametrize("field", ["private_key_env", "password_env", "notifications"])
def test_a_secret_pasted_where_an_env_var_name_belongs_is_refused_without_echoing_it(tmp_path: Path, field, caplog):
    from tests.sshd import keygen

    key_text = keygen(tmp_path / "planted").read_text()
    secret = key_text if field == "private_key_env" else "Tr0ub4dor&3-horse battery"
    transport = {"kind": "sftp", "host": "h", "username": "u", "host_key": "ssh-ed25519 AAAA"}
    entry = siras_integration({**transport, "private_key_env": "K"} if field == "notifications"
                              else {**transport, field: secret})
    path = write_registry(tmp_path / "registry.yaml", CA_DISTRICTS, [entry])
    if field == "notifications":
        import yaml
        data = yaml.safe_load(path.read_text())
        data["notifications"] = {"smtp": {"host": "h", "sender": "hub@example.org", "password_env": secret}}
        path.write_text(yaml.safe_dump(data))
    with pytest.raises(RegistryError) as err:
        load_hub_registry(path)
    shown = "".join(__import__("traceback").format_exception(err.value)) + caplog.text
    assert "name of an environment variable" in str(err.value) or "pattern" in str(err.value)
    assert all(line not in shown for line in _secret_lines(secret)), "the secret is echoed"
    assert "Tr0ub4dor" not in shown and "BEGIN OPENSSH" not in shown


def test_workspace_locations_split_the_definitions_and_feed_runs_skip_dbt():
    """`make dev` serves the feeds and the marts as two code locations: together they hold every asset, sensor and
    job of the single location production serves, and a feed's run process never imports dagster-dbt or dbt-core
    (seconds of every run's start, issue 16)."""
    workspace = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    modules = [e["python_module"]["module_name"] for e in workspace["load_from"]]
    parts = [importlib.import_module(m).defs() for m in modules]
    whole = build_definitions()
    assert sorted(k for d in parts for k in d.resolve_asset_graph().get_all_asset_keys()
                  if d.resolve_asset_graph().get(k).is_materializable) == sorted(
        k for k in whole.resolve_asset_graph().get_all_asset_keys() if whole.resolve_asset_graph().get(k).is_materializable)
    assert sorted(s.name for d in parts for s in d.sensors) == sorted(s.name for s in whole.sensors)
    feeds = next(m for m in modules if "feed" in m)
    probe = (f"import sys, {feeds} as m; d = m.defs(); d.resolve_job_def('siras_import'); "
             "print(sorted({n.split('.')[0] for n in sys.modules if n.split('.')[0] in ('dbt', 'dagster_dbt')}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


STEP_LIBRARIES = ("pandas", "pyarrow", "pandera", "numpy", "rapidfuzz", "paramiko", "dagster_dbt", "dbt", "psycopg",
                  "duckdb")


def test_feed_definitions_load_without_the_libraries_of_the_steps():
    """Every run process loads the definitions before its run starts, and so do the code server and the sensors: they
    declare assets, checks, sensors and run config only. The libraries that read, validate and write files (pandas,
    pyarrow, pandera, numpy), match names (rapidfuzz), fetch by SFTP (paramiko), build the marts (dbt) and the
    warehouse's driver load in the steps that use them (issue 16: a run starts within 3 s of its request; loading
    them cost each run about 2 s before it started)."""
    probe = ("import sys, dagster_project.feeds_location as m; m.defs().resolve_job_def('siras_import'); "
             f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({STEP_LIBRARIES!r})))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
