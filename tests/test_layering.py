"""The package's layering: subpackages by layer, one table of what each may import."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import mlpbench

PACKAGE = Path(mlpbench.__file__).parent
MAX_FLOORS = 8
MAX_TOP_MODULES = 8  # modules at the package's top level, besides __init__.py

# What each part of the package may import at run time (at the top of a module or inside a
# function; imports under `if TYPE_CHECKING` only name types and are not counted). A part is a
# subpackage or a top-level module; "" is the package root, whose `__version__` any part may read.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "files": {"errors"},
    "data": {"errors"},
    "nn": {"errors", "data"},
    "config": {"errors", "data", "nn"},
    "engines": {"errors", "data", "nn", "config"},
    "experiment": {"errors", "files", "data", "nn", "config", "engines"},
    "analysis": {"errors", "config", "engines", "experiment"},
    "report": {"errors", "files", "data", "nn", "config", "engines", "experiment", "analysis"},
    "exports": {"errors", "files", "data", "config", "engines", "experiment"},
    "service": {"errors", "files", "data", "nn", "config", "engines", "experiment", "analysis",
                "report", "exports"},
    "api": {"errors", "config", "engines", "experiment", "analysis", "report", "service"},
    "options": {"data", "config", "engines"},
    "cli": {"errors", "config", "options", "service", "experiment", "analysis", "report",
            "exports"},
    "": {"errors", "api"},  # the package root: UsageError now, the API on first use
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def _part(module: str) -> str:
    """'mlpbench.nn.model' -> 'nn'; 'mlpbench.cli' -> 'cli'; 'mlpbench' -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(nodes: list[ast.stmt], everywhere: bool) -> set[str]:
    """mlpbench modules (and module.name) imported by these statements; with everywhere, also
    inside functions, never under `if TYPE_CHECKING`."""
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "mlpbench":
            # submodules by name; the root itself for anything else but its __version__
            found |= {f"mlpbench.{a.name}" for a in node.names if a.name != "__version__"}
            if any(f"mlpbench.{a.name}" not in _files() and a.name != "__version__"
                   for a in node.names):
                found.add("mlpbench")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlpbench"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mlpbench")}
        if everywhere:
            stack.extend(n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt))
    return found


@functools.cache
def _files() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def runtime_imports(everywhere: bool = False) -> dict[str, set[str]]:
    """Each module's mlpbench imports at import time (with everywhere, at any time)."""
    files = _files()
    graph = {}
    for name, path in files.items():
        deps = _imports(ast.parse(path.read_text()).body, everywhere)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """A module's floor: 1 + the highest floor it imports (leaves are floor 1)."""

    @functools.cache
    def floor(name: str) -> int:
        return 1 + max((floor(d) for d in graph[name]), default=0)

    return {name: floor(name) for name in graph}


def violations(graph: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    """'importer -> imported' for every import between parts that the table does not allow."""
    bad = []
    for name, deps in graph.items():
        for dep in deps:
            source, target = _part(name), _part(dep)
            if source != target and target not in allowed.get(source, set()):
                bad.append(f"{name} -> {dep}")
    return sorted(bad)


def test_every_import_between_parts_is_in_the_table():
    graph = runtime_imports(everywhere=True)
    assert {_part(m) for m in graph} == set(ALLOWED)  # the table names every part, no more
    assert violations(graph, ALLOWED) == []


def test_the_table_is_a_direction_no_part_imports_back():
    for source, targets in ALLOWED.items():
        for target in targets:
            assert source not in ALLOWED[target], (source, target)


def test_violations_names_an_import_against_the_table():
    graph = {"mlpbench.data.dataset": {"mlpbench.engines.harness"},
             "mlpbench.engines.harness": {"mlpbench.data.dataset"}}  # fmt: skip
    table = {"data": set(), "engines": {"data"}}
    assert violations(graph, table) == ["mlpbench.data.dataset -> mlpbench.engines.harness"]


def test_each_subpackage_says_what_it_holds_and_may_import_as_the_table_does():
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc, folder
        for module in folder.glob("*.py"):  # every module it holds is named
            assert module.name == "__init__.py" or module.name in doc, (folder, module.name)
        said = doc.split("May import:", 1)[1]
        named = set(re.findall(r"mlpbench\.(\w+)", said))
        assert named == ALLOWED[folder.name], folder.name


def test_the_top_level_shows_the_architecture():
    modules = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= MAX_TOP_MODULES, modules
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders >= {"nn", "data", "config", "engines", "experiment", "analysis", "report",
                       "exports"}  # fmt: skip


def test_import_graph_is_at_most_eight_floors_high():
    heights = floors(runtime_imports())
    tallest = max(heights, key=heights.get)
    assert heights[tallest] <= MAX_FLOORS, (tallest, sorted(heights.items(), key=lambda x: x[1]))
    assert tallest == "mlpbench.api"  # the Python API sits on the service, on everything else
    assert heights["mlpbench.service"] == heights["mlpbench.api"] - 1


def test_floors_counts_a_chain():
    assert floors({"a": {"b"}, "b": {"c"}, "c": set(), "d": set()}) == {
        "a": 3, "b": 2, "c": 1, "d": 1,
    }  # fmt: skip


def test_study_is_a_pure_schema():
    graph = runtime_imports()
    assert not graph["mlpbench.experiment.study"] & {
        "mlpbench.experiment.runner", "mlpbench.experiment.store", "mlpbench.service",
        "mlpbench.engines", "mlpbench.engines.harness",
    }  # fmt: skip


def test_cli_calls_only_the_service_and_loads_it_when_a_command_runs():
    graph = runtime_imports()
    heavy = {"mlpbench.service", "mlpbench.experiment.runner", "mlpbench.experiment.store",
             "mlpbench.experiment.study", "mlpbench.report.build", "mlpbench.report.plots",
             "mlpbench.analysis.compare"}  # fmt: skip
    assert not graph["mlpbench.cli"] & heavy  # so `mlpbench --help` imports none of them
    source = (PACKAGE / "cli.py").read_text()
    assert "from mlpbench import service" in source
    for name in ("experiment.runner", "experiment.store", "experiment.study", "engines"):
        assert f"mlpbench.{name}" not in source
    assert not re.search(r"from mlpbench[.\w]* import .*\b(runner|store|study|engines)\b", source)
    assert len(source.splitlines()) < 250
