"""How the tuning protocol is set: the axes and their grids, seeds per point, score, hold-out.

A study's `[tuning]` table and the `tune` command's options both become a
TuneSpec; experiment/tune.py runs the protocol it describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mlpbench.errors import UsageError, finite, shown

if TYPE_CHECKING:
    from mlpbench.config.core import Config

SCORES = {"loss": "test_loss", "accuracy": "test_accuracy"}  # measured on the hold-out
MAX_GRID = 1000  # grid points on one axis
TUNING_SEED_OFFSET = 10_000  # tuning seeds never coincide with a study's or a confirmation's


LR_GRID = (1e-4, 1e2, 4)  # the default rates: low, high, points per decade


def log_grid(low: float = LR_GRID[0], high: float = LR_GRID[1],
             per_decade: int = LR_GRID[2]) -> tuple[float, ...]:  # fmt: skip
    """Log-spaced values from low to high inclusive, per_decade points a decade."""
    if not (0 < low < high and finite(high)) or per_decade < 1:
        raise UsageError(
            f"grid needs 0 < low < high and per_decade >= 1, got {shown(low)}, {shown(high)}, "
            f"{shown(per_decade)}"
        )
    if per_decade > MAX_GRID:
        raise UsageError(f"a grid's points per decade are at most {MAX_GRID}, got "
                         f"{shown(per_decade)}")  # fmt: skip
    count = round((math.log10(high) - math.log10(low)) * per_decade) + 1
    if count > MAX_GRID:
        raise UsageError(f"a grid of {count} rates is more than {MAX_GRID}; use fewer per decade")
    return tuple(float(f"{v:.6g}") for v in np.logspace(math.log10(low), math.log10(high), count))


@dataclass(frozen=True)
class TuneSpec:
    """What to tune and how: axis values, seeds per point, score, validation fraction (each axis
    a field of fields.TUNABLE, checked where a grid is read)."""

    axes: dict[str, tuple] = field(default_factory=lambda: {"lr": log_grid()})
    runs: int = 5
    seed: int = TUNING_SEED_OFFSET
    score: str = "loss"
    validation: float = 0.2

    def __post_init__(self) -> None:
        for name, values in self.axes.items():
            if not values:
                raise UsageError(f"the {name} grid is empty")
        if self.score not in SCORES:
            raise UsageError(f"unknown score {self.score!r}; allowed: {', '.join(SCORES)}")
        if self.runs < 1:
            raise UsageError(f"tuning runs must be an integer >= 1, got {self.runs}")

    @property
    def seeds(self) -> list[int]:
        """Seeds of the runs at every grid point."""
        return [self.seed + i for i in range(self.runs)]


def tuning_config(config: Config, validation: float, **values: object) -> Config:
    """A grid point's configuration: the hold-out set aside, a batch of m read as full batch."""
    point = config.replace(**values)
    held = point.replace(validation=validation, batch_size=None)
    if point.batch_size is not None and point.batch_size < held.train_size:
        held = held.replace(batch_size=point.batch_size)
    return held
