"""Summary statistics over the runs of one column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Summary(NamedTuple):
    """Mean and sample standard deviation (ddof = 1) of the finite runs."""

    mean: float
    std: float
    count: int
    diverged: int


def summarize(values: Sequence[float], diverged: Sequence[bool]) -> Summary:
    """Summarise the runs that did not diverge; diverged runs are counted, never averaged."""
    if len(values) != len(diverged):
        raise ValueError(f"{len(values)} values but {len(diverged)} divergence flags")
    kept = np.array([v for v, d in zip(values, diverged) if not d], dtype=np.float64)
    n_div = int(sum(diverged))
    if kept.size == 0:
        return Summary(float("nan"), float("nan"), 0, n_div)
    # identical values (a shared group time) have no spread, not a rounding residue
    same = kept.max() == kept.min()
    std = 0.0 if same else float(kept.std(ddof=1))
    return Summary(float(kept.mean()), std, int(kept.size), n_div)
