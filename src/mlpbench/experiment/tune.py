"""Tuning protocol: a grid, several seeds per point, a validation score, then confirmation.

As optimizer benchmarks such as DeepOBS do: every grid point (learning rates
log-spaced, optionally crossed with batch sizes, epochs or any other numeric
training field: momentum, weight decay, a schedule's decay, l2) trains R seeds on
the train set less a validation hold-out, and is scored by its mean
validation loss (or accuracy). The test set is never looked at. The best
point is then rerun on fresh seeds with the full train set and reported on
the test set, so the figure is not the best of many noisy draws.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from mlpbench.config.core import SEED_LIMIT, Config, Job, check_runs
from mlpbench.config.fields import BY_NAME, KINDS, TUNABLE
from mlpbench.config.tuning import (
    MAX_GRID,
    SCORES,
    TUNING_SEED_OFFSET,
    TuneSpec,
    log_grid,
    tuning_config,
)
from mlpbench.engines.results import StoredRun
from mlpbench.errors import UsageError, shown


class GridPoint(NamedTuple):
    """One point's validation scores over the tuning seeds."""

    values: dict
    mean: float
    std: float
    scores: list[float]
    diverged: int


class TuneResult(NamedTuple):
    """The grid, the chosen point, and the configuration it gives."""

    grid: list[GridPoint]
    best: GridPoint
    config: Config
    trained: int = 0  # grid runs this call trained; the rest came from the store


def grid_jobs(config: Config, spec: TuneSpec, engine: str, dtype: str) -> list[Job]:
    """One job per grid point, trained on the train set less the validation hold-out.

    A batch size above the points left for training (such as m) means full batch.
    """
    names = list(spec.axes)
    return [
        Job(tuning_config(config, spec.validation, **dict(zip(names, combo))), engine, dtype)
        for combo in itertools.product(*spec.axes.values())
    ]


def _point(runs: list[StoredRun], combo: tuple, spec: TuneSpec) -> GridPoint:
    metric = SCORES[spec.score]
    scores = [r.metrics[metric] for r in runs if not r.diverged]
    diverged = len(runs) - len(scores)
    values = dict(zip(spec.axes, combo))
    if not scores or len(runs) < spec.runs:
        return GridPoint(values, float("nan"), float("nan"), scores, diverged)
    std = float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0
    return GridPoint(values, float(np.mean(scores)), std, scores, diverged)


def _rank(point: GridPoint, score: str) -> tuple:
    """Sort key: points without diverged runs first, then by score (lower loss, higher accuracy)."""
    if math.isnan(point.mean):
        return (2, 0.0)
    return (int(point.diverged > 0), point.mean if score == "loss" else -point.mean)


def choose(config: Config, spec: TuneSpec, grid_runs: list[list[StoredRun]]) -> TuneResult | None:
    """Score every grid point from its stored runs (in grid_jobs order) and pick the best.

    Returns None when some grid point has no stored runs yet.
    """
    combos = itertools.product(*spec.axes.values())
    grid = [_point(runs, combo, spec) for runs, combo in zip(grid_runs, combos)]
    if any(math.isnan(p.mean) and not p.diverged for p in grid):
        return None
    best = min(grid, key=lambda p: _rank(p, spec.score))
    return TuneResult(grid, best, config.replace(**best.values))


def parse_values(name: str, text: str) -> tuple:
    """A grid from the command line: 'low:high:per_decade' (a log grid, for a real-valued
    field) or 'a,b,c', each value read as the field's kind reads it."""
    cast = KINDS[BY_NAME[name].kind].parse
    try:
        if ":" in text:
            low, high, per_decade = text.split(":")
            if cast is not float:
                raise ValueError
            return log_grid(float(low), float(high), int(per_decade))
        values = tuple(cast(v) for v in text.split(","))
    except UsageError:
        raise
    except ValueError:
        example = "1e-4:1e2:4 or 0.01,0.1,1" if cast is float else "1,32,128"
        raise UsageError(f"bad {name} grid {text!r}; write it like {example}") from None
    if len(values) > MAX_GRID:
        raise UsageError(f"a grid of {len(values)} values is more than {MAX_GRID}")
    return values


def named_grids(texts: Sequence[str]) -> dict[str, str]:
    """--grid NAME=VALUES options as {name: values}; each name once."""
    grids: dict[str, str] = {}
    for text in texts:
        name, sep, values = text.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name or not values.strip():
            raise UsageError(f"--grid must be NAME=VALUES, such as momentum=0,0.5,0.9; got "
                             f"{shown(text)}")  # fmt: skip
        if name in grids:
            raise UsageError(f"--grid gives {name} twice")
        grids[name] = values.strip()
    return grids


def grid_summary(result: TuneResult, names: Sequence[str]) -> list[dict]:
    """The grid as plain data for JSON."""
    return [
        {**{n: p.values[n] for n in names}, "mean": p.mean, "std": p.std,
         "runs": len(p.scores) + p.diverged, "diverged": p.diverged}
        for p in result.grid
    ]  # fmt: skip


def tune_spec(
    config: Config, grids: dict[str, str | None], names: list[str], runs: int, first: int,
    score: str, validation: float,
) -> TuneSpec:  # fmt: skip
    """The tuning protocol the tune command's options describe, every grid point checked."""
    if not names:
        raise UsageError(f"--tune names no axis; tunable: {', '.join(TUNABLE)}")
    for name in names:
        if name not in TUNABLE:
            raise UsageError(f"cannot tune {name!r}; tunable: {', '.join(TUNABLE)}")
        if grids.get(name) is None:
            own = {"lr": "--lr-grid", "batch_size": "--batch-grid", "epochs": "--epochs-grid"}
            option = own.get(name, f"--grid {name}=VALUES")
            raise UsageError(f"tuning {name} needs {option}")
    axes = {name: parse_values(name, grids[name]) for name in names}  # type: ignore[arg-type]
    if first + TUNING_SEED_OFFSET + check_runs(runs) > SEED_LIMIT:
        raise UsageError(f"tuning uses seeds from seed + {TUNING_SEED_OFFSET}, past 2^63 - 1; "
                         f"use a seed <= {SEED_LIMIT - TUNING_SEED_OFFSET - runs}")  # fmt: skip
    spec = TuneSpec(axes=axes, runs=runs, seed=first + TUNING_SEED_OFFSET,
                    score=score, validation=validation)  # fmt: skip
    for name, values in axes.items():
        for value in values:
            tuning_config(config.replace(**{name: value}), spec.validation)
    return spec
