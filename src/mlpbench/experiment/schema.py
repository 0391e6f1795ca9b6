"""The study file's keys outside the configuration fields: each key's type, default and
meaning, defined once for the parser (study.py) and the docs' reference; and the readers
that check a table of keys, naming the key path of any fault.

The configuration fields a `[defaults]` table or a column may set are not
listed here: they are config/fields.py's, flat or in their sections.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from typing import Any, NamedTuple

from mlpbench.config.tuning import LR_GRID, SCORES, TuneSpec
from mlpbench.engines.results import METRICS
from mlpbench.errors import UsageError, finite, shown

ROWS = ("accuracy", "loss", "time", "compile")
CHECK_KINDS = ("greater", "ratio")


class Key(NamedTuple):
    """One key of a study file's table: its TOML type, its default, and what it means."""

    type: str
    default: Any  # None: the key has no default (it is required, or its absence means none)
    meaning: str
    required: bool = False


def _names(names: tuple[str, ...]) -> str:
    return " or ".join(f'"{n}"' for n in names)


STUDY: dict[str, Key] = {
    "name": Key("string", None, "the study's name (default: the file's name without .toml)"),
    "title": Key("string", "", "the report's title"),
    "runs": Key("integer >= 1", 20, "runs per column; run i of every column uses seed + i, so "
                "columns pair up run by run"),
    "seed": Key("integer >= 0", 0, "seed of run 0"),
    "defaults": Key("table", None, "configuration fields shared by every column, flat or in "
                    "their sections ([defaults.optimizer])"),
    "tables": Key("array of tables", None, "the study's tables ([[tables]]), at least one",
                  required=True),
    "tuning": Key("table", None, 'how the columns that give a field as "tuned" (lr = '
                  '"tuned", momentum = "tuned") are tuned ([tuning])'),
    "summary": Key("string", "", "title of the claims x groups table the report opens with"),
}  # fmt: skip

_SPEC = {f.name: f.default for f in dataclasses.fields(TuneSpec)}  # the protocol's defaults
TUNING: dict[str, Key] = {
    "runs": Key("integer >= 1", _SPEC["runs"], "seeds per grid point"),
    "score": Key(_names(tuple(SCORES)), _SPEC["score"], "the validation score a rate is "
                 "chosen by"),
    "validation": Key("number in (0, 1)", _SPEC["validation"], "fraction of the train set "
                      "held out to score on; the test set is never looked at"),
    "lr_grid": Key("[low, high, per_decade]", list(LR_GRID), "the learning rates tried: "
                   "log-spaced from low to high, per_decade a decade"),
    "grids": Key("table of field = [values]", {}, "the values tried for each other field a "
                 "column tunes, such as { momentum = [0, 0.5, 0.9] } (grids.lr replaces "
                 "lr_grid); a column tuning several fields tries every combination; tunable: "
                 "every field `mlpbench tune --tune` takes"),
}  # fmt: skip

TABLE: dict[str, Key] = {
    "number": Key("integer", None, "the table's number, unique in the study", required=True),
    "name": Key("string", None, "its name, unique, for --tables (default: its number)"),
    "title": Key("string", "", "its title"),
    "note": Key("string", "", "a note shown under the title"),
    "rows": Key(f"array of {_names(ROWS)}", list(ROWS[:3]), "the metric rows it shows"),
    "columns": Key("array of tables", None, "its columns ([[tables.columns]]), at least one",
                   required=True),
    "claims": Key("array of tables", [], "sentences its runs are judged on "
                  "([[tables.claims]])"),
    "baseline": Key("a column's label", None, "compare every column with this one instead of "
                    "every pair (by itself the first column, above 12 columns)"),
    "group": Key("string", "", "its column in the study's summary of claims (a data set, say)"),
    "units": Key("boolean", False, "also draw each column's hidden units over the inputs, as "
                 "Playground draws its neurons (each column's first finite run)"),
}  # fmt: skip

COLUMN: dict[str, Key] = {
    "label": Key("string", None, "the column's label, unique in its table", required=True),
    "engine": Key("an engine's name", None, "the engine that trains it (default: --engine, "
                  "or the fastest installed)"),
    "dtype": Key('"float64" or "float32"', None, "float width (default: the engine's own)"),
    "device": Key('"cpu" or "gpu"', "cpu", "where it trains; a GPU column says \"no GPU "
                  "here\" on a machine without one"),
    "reported": Key("table of metric = number", {}, "figures from elsewhere (the seed "
                    f"report's), shown beside ours; metrics: {', '.join(METRICS)}"),
}  # fmt: skip

CLAIM: dict[str, Key] = {
    "text": Key("string", None, "the sentence judged", required=True),
    "checks": Key("array of tables", None, "what would make it true, all of them",
                  required=True),
}  # fmt: skip

CHECK: dict[str, Key] = {
    "kind": Key(_names(CHECK_KINDS), None, "greater: a's metric above b's (paired test, Holm "
                "over the claim's checks); ratio: the geometric-mean ratio a/b within "
                "[low, high]", required=True),
    "metric": Key("a metric's name", None, f"one of {', '.join(METRICS)}", required=True),
    "a": Key("a column's label", None, "the first column", required=True),
    "b": Key("a column's label", None, "the second column", required=True),
    "low": Key("number", 0.0, "a ratio's lower bound"),
    "high": Key("number", float("inf"), "a ratio's upper bound"),
}  # fmt: skip

# Each table of keys by where it stands in a study file, with a heading for the docs.
SCHEMA: dict[str, tuple[str, dict[str, Key]]] = {
    "the file's top level": ("The study", STUDY),
    "[tuning]": ("Tuning", TUNING),
    "each [[tables]]": ("Tables", TABLE),
    "each [[tables.columns]], besides the configuration fields below": ("Columns", COLUMN),
    "each [[tables.claims]]": ("Claims", CLAIM),
    "each entry of a claim's checks": ("Checks", CHECK),
}


class Where(str):
    """A key path in a study file, printed before its error: 'f.toml: tables[0].columns[1]'."""

    def __truediv__(self, key: str | int) -> Where:
        if isinstance(key, int):
            return Where(f"{self}[{key}]")
        return Where(f"{self}.{key}" if ": " in self else f"{self}: {key}")

    def error(self, message: str) -> UsageError:
        """The error, prefixed with this path."""
        return UsageError(f"{self}: {message}")


def get(raw: dict, keys: dict[str, Key], key: str) -> Any:
    """A key's value, or its default from the schema."""
    return raw.get(key, keys[key].default)


def table_of(where: Where, value: Any, allowed: tuple[str, ...]) -> dict:
    """A TOML table with only allowed keys."""
    if not isinstance(value, dict):
        raise where.error(f"expected a table of keys, got {value!r}")
    for key in value:
        if key not in allowed:
            raise (where / key).error(f"unknown key {key!r}; allowed: {', '.join(allowed)}")
    return value


def typed(where: Where, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise where.error(f"expected {what}, got {value!r}")
    return value


# the longest text a study may give each kind of string (a 1 MB label stalled the report)
TEXT_LIMITS = {"label": 100, "name": 100, "group": 100, "title": 300, "text": 300,
               "summary": 300, "note": 2000}  # fmt: skip


def prose(where: Where, value: Any, kind: str) -> str:
    """A study's string for people to read: no control characters (they would reach the
    terminal and the reports; a note may break lines), at most TEXT_LIMITS[kind] long."""
    value = typed(where, value, str, f"a string {kind}")
    allowed = "\n" if kind == "note" else ""
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in allowed), None)
    if bad is not None:
        raise where.error(f"control character U+{ord(bad):04X} is not allowed in a {kind}")
    if kind in ("name", "label") and not value.strip():
        raise where.error(f"a {kind} must not be empty")  # it names a table, a column, a run
    if len(value) > TEXT_LIMITS[kind]:
        raise where.error(f"a {kind} is at most {TEXT_LIMITS[kind]} characters, got "
                          f"{len(value)}")  # fmt: skip
    return value


def number(where: Where, value: Any) -> float:
    value = typed(where, value, (int, float), "a number")
    if not finite(value):
        raise where.error(f"expected a finite number, got {shown(value)}")
    return float(value)
