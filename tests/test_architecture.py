"""The shape docs/architecture.md promises: hub/ in floors along a delivery's path, imports pointing down, no circles,
the core knowing nothing of Dagster's layer above it, and small modules.

Every import counts, also one inside a function or under TYPE_CHECKING: a circle of types is a circle to a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# hub's packages, bottom to top: a module imports only from its own floor or below
FLOORS = ("registry", "store", "read", "intake", "load", "gates", "apply", "inventory", "monitor", "cli")
ABOVE_HUB = ("assets", "sensors", "dagster_project", "feeds", "schedules")  # what only the CLI may reach
PACKAGES = ("hub", "feeds", "assets", "sensors", "dagster_project", "resources", "schedules", "demo", "deploy", "bench")
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "hub").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, names: bool = True) -> set[str]:
    """Every module `path` imports (absolute names), wherever in the file the import stands; with `names`, also
    module.name of each `from module import name` (the name may be a submodule)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out |= {node.module} | ({f"{node.module}.{a.name}" for a in node.names} if names else set())
    return out


def _hub_edges() -> dict[str, set[str]]:
    """Module -> the hub modules it imports (`from hub.x import name` counts as hub.x, a submodule as itself)."""
    modules = _modules()
    edges = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported not in (name, "hub"):
                targets.add(imported)
        edges[name] = targets
    return edges


def _floor(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_hub_module_sits_on_a_floor():
    stray = [m for m in _modules() if m != "hub" and _floor(m) not in FLOORS]
    assert stray == [], f"modules outside hub's floors {FLOORS}: {stray}"


def test_hub_imports_point_down_the_floors():
    upward = [f"{m} -> {t}" for m, targets in _hub_edges().items() for t in sorted(targets)
              if _floor(m) in FLOORS and _floor(t) in FLOORS and FLOORS.index(_floor(t)) > FLOORS.index(_floor(m))]
    assert upward == [], "imports pointing up a floor:\n" + "\n".join(upward)


def test_no_import_circles_within_hub():
    edges = _hub_edges()
    circles, done, path = [], set(), []

    def visit(m: str) -> None:
        if m in path:
            circles.append(" -> ".join(path[path.index(m):] + [m]))
            return
        if m in done:
            return
        path.append(m)
        for t in sorted(edges[m]):
            visit(t)
        path.pop()
        done.add(m)

    for m in sorted(edges):
        visit(m)
    assert circles == [], "import circles:\n" + "\n".join(circles)


def test_hub_knows_nothing_of_the_dagster_layer_but_its_cli():
    reaching = [f"{m} -> {i}" for m, path in _modules().items() if _floor(m) != "cli"
                for i in sorted(_imports(path, names=False)) if i.split(".")[0] in ABOVE_HUB]
    assert reaching == [], "hub modules importing the layer above hub:\n" + "\n".join(reaching)


def test_no_project_module_over_300_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert long == [], f"modules over {MAX_LINES} lines:\n" + "\n".join(long)
