"""MkDocs hooks: the reference parts of the site generated from the code when it is built.

A page holds a marker `<!-- mlpbench: NAME -->`; on_page_markdown replaces it
with GENERATED[NAME](), so the study reference, the command reference and the
layering table say what the code does, and cannot drift from it.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MARKER = re.compile(r"<!-- mlpbench: ([\w-]+) -->")


def _cell(value: object) -> str:
    """A value as a Markdown table cell: code where it is one, pipes escaped."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _default(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{value!r}`".replace("'", '"')


def study_reference() -> str:
    """Every study-file key with its type, default and meaning, then every configuration
    field by section."""
    from mlpbench.config.fields import FIELDS, SECTIONS
    from mlpbench.experiment.schema import SCHEMA

    parts = []
    for place, (title, keys) in SCHEMA.items():
        parts.append(f"### {title}\n\nKeys of {place}:\n")
        rows = [(f"`{name}`", k.type, _default(k.default) if k.default is not None else
                 ("required" if k.required else "—"), k.meaning) for name, k in keys.items()]
        parts.append(_table(("key", "type", "default", "meaning"), rows))
    parts.append("### Configuration fields\n\nEach may be set in `[defaults]` or in a column, "
                 "flat (`name = value`) or in its section (`[defaults.SECTION]`, or "
                 "`SECTION = { key = value }` in a column). The same name is the keyword of "
                 "`mlpbench.train` and, with dashes, the command-line flag.\n")
    for section, description in SECTIONS.items():
        fields = [f for f in FIELDS if f.section == section]
        parts.append(f"#### `{section}`\n\n{description[0].upper()}{description[1:]}.\n")
        rows = [(f"`{f.key}`", f"`{f.name}`", f"`{f.flag_name}`" if f.flag else "—",
                 _kind(f), _default(f.default), f.help) for f in fields]  # fmt: skip
        parts.append(_table(("key in section", "flat key", "flag", "type", "default",
                             "meaning"), rows))  # fmt: skip
    return "\n".join(parts)


def _kind(field) -> str:
    from mlpbench.config.fields import KINDS

    shown = KINDS[field.kind].shown
    if field.allowed():
        shown += ": " + ", ".join(f"`{n}`" for n in field.allowed())
    if field.high is not None:
        shown += f", at most {field.high}"
    return shown


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """Each command's description, usage and options, read from the parser itself."""
    from mlpbench.cli import COMMANDS
    from mlpbench.options import build_parser

    parts = []
    for name, sub in _subcommands(build_parser(COMMANDS)).items():
        usage = sub.format_usage().removeprefix("usage: ").strip().replace("\n" + " " * 7, "\n")
        parts.append(f"### `mlpbench {name}`\n\n{sub.description}\n\n```\n{usage}\n```\n")
        for group in sub._action_groups:
            rows = []
            for action in group._group_actions:
                if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                    continue
                flags = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
                help_text = (action.help or "").replace("%%", "%")
                rows.append((flags, help_text))
            if rows:
                plain = group.title in ("options", "optional arguments")
                title = "options" if plain else group.title
                about = f": {group.description}" if group.description else ""
                parts.append(f"**{title}**{about}\n")
                parts.append(_table(("option", "what"), rows))
        if sub.epilog:
            parts.append(f"{sub.epilog.replace('example: ', 'Example: `', 1)}`\n")
    return "\n".join(parts)


def layering() -> str:
    """The table of tests/test_layering.py: what each part may import."""
    path = ROOT / "tests" / "test_layering.py"
    spec = importlib.util.spec_from_file_location("_layering", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [(f"`{part or 'mlpbench (the root)'}`", ", ".join(f"`{t}`" for t in sorted(allowed))
             or "nothing of mlpbench") for part, allowed in module.ALLOWED.items()]  # fmt: skip
    return _table(("part", "may import"), rows)


def optimizer_settings() -> str:
    """Which optimizer reads which setting, and its Keras 3 default there."""
    from mlpbench.nn.optimizers import OPTIMIZERS, Settings, default, uses

    def shown(value: object) -> str:  # as a study file writes it
        return f"`{str(value).lower()}`" if isinstance(value, bool) else _default(value)

    rows = [(f"`{name}`", *(shown(default(name, s)) if uses(name, s) else "·"
                            for s in Settings._fields)) for name in OPTIMIZERS]  # fmt: skip
    return _table(("optimizer", *(f"`{s}`" for s in Settings._fields)), rows)


def schedule_settings() -> str:
    """Which schedule reads which setting, and its default there (required: no default)."""
    from mlpbench.nn.schedules import REQUIRED, SCHEDULES, SETTINGS, uses

    def shown(name: str, setting: str) -> str:
        if not uses(name, setting):
            return "·"
        if setting in REQUIRED.get(name, ()) or setting in ("boundaries", "values"):
            return "required"
        if setting == "decay_steps":
            return "the run's updates after warmup" if name == "cosine" else "one epoch's updates"
        value = SCHEDULES[name].defaults[setting]
        return "none" if value is None else (
            f"`{str(value).lower()}`" if isinstance(value, bool) else _default(value))

    rows = [(f"`{name}`", *(shown(name, s) for s in SETTINGS)) for name in SCHEDULES]
    return _table(("schedule", *(f"`{s}`" for s in SETTINGS)), rows)


def activation_table() -> str:
    """Every hidden activation with its definition, from the registry."""
    from mlpbench.nn.activations import ACTIVATIONS

    return _table(("activation", "f(z)"), [(f"`{name}`", a.description)
                                           for name, a in ACTIVATIONS.items()])  # fmt: skip


def initializer_table() -> str:
    """Every initializer with how it draws, from the registry."""
    from mlpbench.nn.initializers import INITIALIZERS

    return _table(("init", "a layer's weights and biases"), [
        (f"`{name}`", i.description) for name, i in INITIALIZERS.items()])  # fmt: skip


def capabilities() -> str:
    """What each engine trains beyond every activation, loss and optimizer, from its
    Capabilities in the registry."""
    from mlpbench.engines.registry import ENGINES

    def mark(value: object) -> str:
        if isinstance(value, frozenset):
            return ", ".join(sorted(value))
        return "yes" if value is True else ("all" if value is None else "·")

    def cells(caps) -> list[str]:
        out = [mark(getattr(caps, f)) for f in ("per_run_lr", "plateau", "stopping",
                                                "stop_rules", "dropout", "gpu")]  # fmt: skip
        return out if caps.stopping else [*out[:3], "·", *out[4:]]  # no rule without stopping

    rows = [(f"`{name}`", ", ".join(s.capabilities.dtypes), *cells(s.capabilities))
            for name, s in ENGINES.items()]
    return _table(("engine", "float widths", "per-run rates", "plateau", "early stopping",
                   "stopping rules", "dropout", "GPU"), rows)


GENERATED: dict[str, Callable[[], str]] = {
    "activations": activation_table,
    "capabilities": capabilities,
    "initializers": initializer_table,
    "study-reference": study_reference,
    "cli-reference": cli_reference,
    "layering": layering,
    "optimizer-settings": optimizer_settings,
    "schedule-settings": schedule_settings,
}


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace each marker with its generated Markdown; an unknown marker fails the build."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATED:
            raise KeyError(f"{page.file.src_path}: unknown generated part {name!r}")
        return GENERATED[name]()

    return MARKER.sub(replace, markdown)
