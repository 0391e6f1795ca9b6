"""The package's layering: a shallow import graph, a pure study schema, a thin CLI."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import mlpbench

PACKAGE = Path(mlpbench.__file__).parent
MAX_FLOORS = 8


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def runtime_imports() -> dict[str, set[str]]:
    """Each module's mlpbench imports at import time (not those under `if TYPE_CHECKING`)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps = set()
        for node in ast.parse(path.read_text()).body:  # top level only
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlpbench"):
                deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """A module's floor: 1 + the highest floor it imports (leaves are floor 1)."""

    @functools.cache
    def floor(name: str) -> int:
        return 1 + max((floor(d) for d in graph[name]), default=0)

    return {name: floor(name) for name in graph}


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
    assert not graph["mlpbench.study"] & {
        "mlpbench.runner", "mlpbench.store", "mlpbench.service", "mlpbench.engines",
        "mlpbench.engines.harness",
    }  # fmt: skip


def test_cli_calls_only_the_service_and_loads_it_when_a_command_runs():
    graph = runtime_imports()
    heavy = {"mlpbench.service", "mlpbench.runner", "mlpbench.store", "mlpbench.study",
             "mlpbench.report", "mlpbench.plots", "mlpbench.analysis"}  # fmt: skip
    assert not graph["mlpbench.cli"] & heavy  # so `mlpbench --help` imports none of them
    source = (PACKAGE / "cli.py").read_text()
    assert "from mlpbench import service" in source
    for name in ("runner", "store", "study", "engines"):
        assert f"mlpbench.{name}" not in source and f"mlpbench import {name}" not in source
    assert len(source.splitlines()) < 250
