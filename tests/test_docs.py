"""The README and the documentation site: short, linked, and generated from the code."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from mlpbench.config.fields import FIELDS, SECTIONS
from mlpbench.experiment.schema import SCHEMA
from mlpbench.experiment.study import parse_study

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_short_and_links_into_pages_that_exist():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    links = re.findall(r"\]\(((?:docs/)[^)#]+)", text)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).exists(), link


def _nav_pages() -> list[str]:
    return re.findall(r":\s+([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)


def test_every_page_is_in_the_navigation_once_and_every_entry_is_a_page():
    pages = _nav_pages()
    assert len(pages) == len(set(pages))
    assert sorted(pages) == sorted(p.name for p in DOCS.glob("*.md"))


@pytest.mark.parametrize("path", [README, DOCS / "studies.md"], ids=lambda p: p.name)
def test_the_study_examples_parse(path):
    blocks = re.findall(r"```toml\n(.*?)```", path.read_text(), re.S)
    assert blocks
    for block in blocks:
        study = parse_study(block, "example.toml")
        assert study.tables[0].columns[1].config.optimizer == "adam"


def test_the_study_reference_names_every_key_and_field(hooks):
    text = hooks.study_reference()
    for _, keys in SCHEMA.values():
        for key in keys:
            assert f"| `{key}` |" in text, key
    for section in SECTIONS:
        assert f"#### `{section}`" in text
    for f in FIELDS:
        assert f"| `{f.key}` | `{f.name}` |" in text, f.name
        assert f.help.replace("|", "\\|") in text


def test_the_command_reference_names_every_command_and_field_flag(hooks):
    from mlpbench.cli import COMMANDS

    text = hooks.cli_reference()
    for name in COMMANDS:
        assert f"### `mlpbench {name}`" in text
    train = text.split("### `mlpbench train`")[1].split("### `mlpbench")[0]
    for f in FIELDS:
        assert (f"| `{f.flag_name}`" in train) == f.flag, f.name


def test_the_layering_page_shows_the_tests_table(hooks):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_layering import ALLOWED

    text = hooks.layering()
    assert text.count("\n| `") == len(ALLOWED)


def test_every_marker_in_the_pages_is_generated(hooks):
    for page in DOCS.glob("*.md"):
        for name in hooks.MARKER.findall(page.read_text()):
            assert name in hooks.GENERATED, (page.name, name)
    with pytest.raises(KeyError):
        hooks.on_page_markdown("<!-- mlpbench: nothing -->", type("P", (), {
            "file": type("F", (), {"src_path": "x.md"})}), None, None)  # fmt: skip


def test_the_public_surface_is_all_of_it_and_the_api_page_documents_each_name():
    import mlpbench

    page = (DOCS / "api.md").read_text()
    for name in mlpbench.__all__:
        if name == "__version__":
            continue
        assert getattr(mlpbench, name).__doc__, name
        assert f"::: mlpbench.{name}\n" in page, name


def test_the_capabilities_table_has_a_row_per_engine(hooks):
    from mlpbench.engines.registry import ENGINES

    text = hooks.capabilities()
    assert text.count("\n| `") == len(ENGINES)
    assert "| `keras` | float32, float64 | · | yes | yes | keras | · | yes |" in text
