"""What a run produces and what the store keeps of it: the records every layer shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

METRICS = (
    "train_accuracy",
    "test_accuracy",
    "train_loss",
    "test_loss",
    "train_time_s",
    "test_time_s",
    "compile_time_s",
)
# per-epoch curves a run may have beside its loss curve, by name
CURVES = {"penalty": "the weight penalty (config.penalty) each epoch, as the loss curve's "
                     "sample-weighted mean of batches",
          "val_loss": "early stopping's hold-out: its data loss at each epoch's end"}


@dataclass
class RunResult:
    """What one run produced; accuracies in percent, times in seconds."""

    seed: int
    metrics: dict[str, float]
    loss_curve: np.ndarray
    params: list
    diverged: bool
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # a CURVES name: (epochs,)


@dataclass(frozen=True)
class StoredRun:
    """One finished run as the store holds it, with what made it."""

    id: int
    config_key: str
    config: dict
    engine: str
    dtype: str
    device: str
    seed: int
    diverged: bool
    metrics: dict[str, float]
    group_size: int  # runs trained together in one call, sharing its wall time
    loss_curve: np.ndarray
    params: list
    versions: dict[str, str]
    environment: dict[str, str]
    created_at: str
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # a CURVES name: (epochs,)


def padded(curves: list[np.ndarray]) -> np.ndarray:
    """Runs x epochs, a run that stopped early padded with NaN past its last epoch."""
    out = np.full((len(curves), max((len(c) for c in curves), default=0)), np.nan)
    for i, curve in enumerate(curves):
        out[i, : len(curve)] = curve
    return out
