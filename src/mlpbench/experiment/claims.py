"""A study table's claims: sentences from a report and the checks on its columns that would
make each true, read from [[tables.claims]] with their key paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlpbench.engines.results import METRICS
from mlpbench.experiment.schema import (
    CHECK,
    CHECK_KINDS,
    CLAIM,
    Where,
    number,
    prose,
    table_of,
    typed,
)


@dataclass(frozen=True)
class Check:
    """One testable statement about two columns of a table.

    kind "greater": column a's metric is higher than column b's (paired test);
    kind "ratio": mean(a) / mean(b) lies within [low, high].
    """

    kind: str
    metric: str
    a: str
    b: str
    low: float = CHECK["low"].default
    high: float = CHECK["high"].default


@dataclass(frozen=True)
class Claim:
    """A sentence from a report and the checks that would make it true."""

    text: str
    checks: tuple[Check, ...]


def read_claim(where: Where, raw: Any, labels: list[str]) -> Claim:
    """A claim and its checks, each naming columns of the table (labels)."""
    raw = table_of(where, raw, tuple(CLAIM))
    text = prose(where / "text", raw.get("text"), "text")
    checks = typed(where / "checks", raw.get("checks"), list, "a list of checks")
    if not checks:  # all of no checks would hold: a claim nothing could refute
        raise (where / "checks").error("a claim needs at least one check")
    return Claim(text, tuple(_check(where / "checks" / i, c, labels) for i, c in enumerate(checks)))


def _check(where: Where, raw: Any, labels: list[str]) -> Check:
    raw = table_of(where, raw, tuple(CHECK))
    kind = raw.get("kind")
    if kind not in CHECK_KINDS:
        raise (where / "kind").error(f"unknown kind {kind!r}; allowed: {', '.join(CHECK_KINDS)}")
    metric = raw.get("metric")
    if metric not in METRICS:
        raise (where / "metric").error(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
    for side in ("a", "b"):
        if raw.get(side) not in labels:
            raise (where / side).error(f"{raw.get(side)!r} is not a column; columns: {labels}")
    bounds = {k: number(where / k, raw[k]) for k in ("low", "high") if k in raw}
    return Check(kind, metric, raw["a"], raw["b"], **bounds)
