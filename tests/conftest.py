"""Shared fixtures: a tiny study file, and stored runs made by hand for the verdict tests."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench.engines.results import StoredRun

TINY_STUDY = """
name = "tiny"
runs = 3
seed = 5

[defaults]
m = 60
n = 20
epochs = 15

[[tables]]
number = 1
name = "loss"
title = "Loss functions"
  [[tables.columns]]
  label = "BCE"
  loss = "bce"
  lr = 2.0
  [[tables.columns]]
  label = "MSE"
  loss = "mse"
  lr = 5.0

[[tables]]
number = 2
name = "batch"
title = "Batch sizes"
rows = ["accuracy"]
  [[tables.columns]]
  label = "B=7"
  optimizer = "adam"
  lr = 0.05
  batch_size = 7
"""


@pytest.fixture
def tiny_study(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_STUDY)
    return path


def stored_run(seed: int, metrics: dict[str, float], diverged: bool = False,
               group: int = 1) -> StoredRun:  # fmt: skip
    """A stored run with only what the statistics read: its seed, metrics, divergence and
    how many runs shared its wall time."""
    return StoredRun(seed, "k", {}, "numpy", "float64", "cpu", seed, diverged, metrics, group,
                     np.zeros(1), [], {}, {}, "")  # fmt: skip


def assert_same_runs(ours, theirs, rtol: float) -> None:
    """Two engines' runs of one configuration: the same epochs, and every curve and weight
    equal to rtol (weights near 0 to 1e-13 absolute)."""
    for a, b in zip(ours, theirs, strict=True):
        assert len(b.loss_curve) == len(a.loss_curve), (a.seed, len(a.loss_curve))
        np.testing.assert_allclose(b.loss_curve, a.loss_curve, rtol=rtol)
        assert sorted(a.curves) == sorted(b.curves)
        for name in a.curves:
            np.testing.assert_allclose(b.curves[name], a.curves[name], rtol=rtol, atol=1e-15)
        for x, y in zip(a.params, b.params):
            np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=rtol, atol=1e-13)


# the engines that train every run in one traced step: no plateau, early stopping or dropout
FRAMEWORKS = ("keras", "tf-function", "tf-xla", "jax")
# the frameworks without callbacks: they cannot stop a run or lower its rate as it trains
TRACED = ("tf-function", "tf-xla", "jax")


def assert_a_framework_refuses(argv: list[str], out, message: str, capsys,
                               frameworks: tuple[str, ...] = FRAMEWORKS) -> None:  # fmt: skip
    """`mlpbench train` argv (its --out last) run again on an installed engine of frameworks
    exits 2 with one line holding message, and writes nothing to out."""
    from mlpbench import cli
    from mlpbench.engines.registry import available

    framework = next((e for e in frameworks if available(e)), None)
    if framework is None:
        return
    assert cli.main([*argv[:-2], "--engine", framework, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()
