"""The conformance suite: every installed engine, on every device it has here, against
the NumPy float64 reference, over activation x depth x loss x optimizer x batch.

Each case trains 2 runs of a small problem (m = 20, n = 8) for 12 updates, at
full batch and with B = 8 (batches of 8, 8 and a short 4), from the same
initial weights and batch order, and compares the loss curves and the final
weights (mlpbench.analysis.agree.difference). Tolerances, stated once:

- float64 engines: 1e-10. They do the reference's arithmetic in another
  summation order and with their own exp (within 1 ulp), so they differ by
  rounding, ~1e-16 per operation, amplified a little over 12 updates;
  observed <= 1e-13.
- float32 engines: 1e-4. float32 rounds at 6e-8 per operation; over 12
  updates Adam's and RMSProp's division by the gradient's own size amplifies
  that to ~5e-6 observed; 1e-4 leaves a margin of 20 and still fails every
  mutation below by orders of magnitude.

Softmax outputs have a grid of their own: 3 classes on 3 inputs read from a
CSV file (so the file path is under test too), every activation x cce and
mse x optimizer x batch, on a 3-4-3-3 network, with the same tolerances.

A new engine in engines.ENGINES is under this whole grid with no edit here.
The mutation tests break each activation's derivative on purpose in each
compiled or framework engine and check that the suite would fail it.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from mlpbench import engines
from mlpbench.analysis.agree import difference
from mlpbench.config.core import Config
from mlpbench.nn.activations import ACTIVATIONS
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.optimizers import OPTIMIZERS

SEEDS = [0, 1]
RATES = {"sgd": 0.5, "rmsprop": 0.01, "adam": 0.05}
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
GRID = list(itertools.product(
    ("sigmoid", "tanh", "relu"), ((3,), (4, 3)), ("bce", "mse"), tuple(RATES), (None, 8)
))  # fmt: skip
SOFTMAX_GRID = list(itertools.product(
    ("sigmoid", "tanh", "relu"), ("cce", "mse"), tuple(RATES), (None, 8)
))  # fmt: skip


@pytest.fixture(scope="session")
def three_classes(tmp_path_factory) -> str:
    """40 rows of 3 inputs and a 3-class target given as strings."""
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (40, 3))
    label = np.array(["a", "b", "c"])[(x[:, 0] > 0).astype(int) + (x[:, 1] + x[:, 2] > 0.5)]
    path = tmp_path_factory.mktemp("conformance") / "three.csv"
    rows = [",".join([*(f"{v:.6f}" for v in point), c]) for point, c in zip(x, label)]
    path.write_text("\n".join(["u,v,w,class", *rows]) + "\n")
    return str(path)


def engines_here() -> list[tuple[str, str]]:
    """(engine, device) for every installed engine but the reference, on each device it has."""
    return [(name, device) for name in engines.installed() if name != "numpy"
            for device in engines.load(name).devices()]  # fmt: skip


def config_for(activation, hidden, loss, optimizer, batch, data="quadratic") -> Config:
    """12 updates: 12 full-batch epochs, or 4 epochs of 3 batches."""
    return Config(data=data, m=20, n=8, hidden=hidden, activation=activation, loss=loss,
                  optimizer=optimizer, lr=RATES[optimizer], batch_size=batch,
                  epochs=12 if batch is None else 4)  # fmt: skip


@functools.cache
def reference(config: Config) -> list:
    return engines.train("numpy", config, SEEDS, "float64")


def distance(name: str, device: str, config: Config) -> tuple[float, float]:
    """Largest relative loss-curve difference and relative weight distance to the reference."""
    results = engines.train(name, config, SEEDS, device=device)
    d = difference(results, reference(config), name, engines.default_dtype(name))
    return d.curve, d.weights


@pytest.mark.parametrize(("activation", "hidden", "loss", "optimizer", "batch"), GRID)
@pytest.mark.parametrize(("name", "device"), engines_here())
def test_engine_conforms(name, device, activation, hidden, loss, optimizer, batch):
    config = config_for(activation, hidden, loss, optimizer, batch)
    tolerance = TOLERANCE[engines.default_dtype(name)]
    curve, weights = distance(name, device, config)
    assert curve <= tolerance and weights <= tolerance, (curve, weights)


@pytest.mark.parametrize(("activation", "loss", "optimizer", "batch"), SOFTMAX_GRID)
@pytest.mark.parametrize(("name", "device"), engines_here())
def test_engine_conforms_on_softmax_outputs(
    name, device, activation, loss, optimizer, batch, three_classes
):
    config = config_for(activation, (4, 3), loss, optimizer, batch, three_classes)
    assert config.layer_sizes == (3, 4, 3, 3)
    tolerance = TOLERANCE[engines.default_dtype(name)]
    curve, weights = distance(name, device, config)
    assert curve <= tolerance and weights <= tolerance, (curve, weights)


def test_the_grid_covers_what_the_issue_asks():
    assert len(GRID) == 3 * 2 * 2 * 3 * 2
    assert len(SOFTMAX_GRID) == 3 * 2 * 3 * 2
    assert {a for a, *_ in GRID} == {a for a, *_ in SOFTMAX_GRID} == set(ACTIVATIONS)
    losses = {loss for _, _, loss, _, _ in GRID} | {loss for _, loss, _, _ in SOFTMAX_GRID}
    assert losses == set(LOSSES)
    assert {loss for _, loss, _, _ in SOFTMAX_GRID} == {"cce", "mse"}
    assert {o for *_, o, _ in GRID} == {o for *_, o, _ in SOFTMAX_GRID} == set(OPTIMIZERS)


def test_every_engine_declares_the_whole_registry():
    """The grid above runs every registered activation, loss and optimizer on every engine."""
    for name in engines.ENGINES:
        caps = engines.spec(name).capabilities
        assert caps.activations is caps.losses is caps.optimizers is None, name
