"""Cross-engine agreement: same seeds, same start, same batches, how far apart at the end.

Two measures per engine pair, both relative to the first (reference) engine:
- curve: the largest relative difference between per-epoch loss curves,
  max |a - b| / |b| over every epoch of every run (and of every other curve
  they have, such as a weight penalty's);
- weights: ||a - b|| / ||b|| over all final weights of all runs.

Tolerances used by the tests (float32 engines against the float64 NumPy
reference, 200 updates of the seed network; see tests/test_agreement.py):
curve 1e-3 and weights 1e-2. Measured on correct engines the worst cases are
8.5e-5 and 1.6e-3 (RMSProp, whose step g / sqrt(v) magnifies float32 rounding
once gradients are small); an epsilon moved out of RMSProp's square root gives
8.2e-3 and 4.0e-2, and Adam without bias correction or with epsilon inside
the root is off by more than 0.1 on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from mlpbench.engines.results import RunResult

CURVE_TOLERANCE = 1e-3
WEIGHT_TOLERANCE = 1e-2


class Difference(NamedTuple):
    """How far one engine's runs are from the reference engine's."""

    engine: str
    dtype: str
    curve: float
    weights: float
    test_accuracy: float


def _weights(results: Sequence[RunResult]) -> np.ndarray:
    return np.concatenate([np.ravel(p) for r in results for p in r.params])


def _curves(results: Sequence[RunResult]) -> np.ndarray:
    """Each run's loss curve followed by its other curves, in name order, run after run (a
    run that stopped early has fewer epochs)."""
    return np.concatenate([np.concatenate([r.loss_curve, *(r.curves[k] for k in
                                                           sorted(r.curves))])
                           for r in results])  # fmt: skip


def difference(
    results: Sequence[RunResult], reference: Sequence[RunResult], engine: str, dtype: str
) -> Difference:
    """Compare two engines' results for the same seeds."""
    if [r.seed for r in results] != [r.seed for r in reference]:
        raise ValueError("agreement needs the same seeds in the same order")
    if [sorted(r.curves) for r in results] != [sorted(r.curves) for r in reference]:
        raise ValueError("agreement needs the same curves (one penalized, one not?)")
    a, b = _curves(results), _curves(reference)
    wa, wb = _weights(results), _weights(reference)
    acc = max(abs(x.metrics["test_accuracy"] - y.metrics["test_accuracy"])
              for x, y in zip(results, reference))  # fmt: skip
    same_epochs = [len(r.loss_curve) for r in results] == [len(r.loss_curve) for r in reference]
    return Difference(
        engine,
        dtype,
        float(np.max(np.abs(a - b) / np.abs(b))) if same_epochs else float("inf"),
        float(np.linalg.norm(wa - wb) / np.linalg.norm(wb)),
        float(acc),
    )


def format_differences(reference: str, rows: Sequence[Difference]) -> str:
    """A small table, one line per engine."""
    lines = [f"reference: {reference}",
             f"{'engine':<22} {'loss curve':>12} {'weights':>12} {'test acc':>9}"]  # fmt: skip
    for r in rows:
        flag = "" if r.curve <= CURVE_TOLERANCE and r.weights <= WEIGHT_TOLERANCE else "  (!)"
        lines.append(
            f"{r.engine + ', ' + r.dtype:<22} {r.curve:>12.2e} {r.weights:>12.2e}"
            f" {r.test_accuracy:>8.2f}%{flag}"
        )
    lines.append(
        f"loss curve: max |a-b|/|b| over epochs and runs (tolerance {CURVE_TOLERANCE:g}); "
        f"weights: ||a-b||/||b|| (tolerance {WEIGHT_TOLERANCE:g}); "
        "test acc: largest per-run difference"
    )
    return "\n".join(lines)
