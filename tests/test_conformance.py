"""The conformance suite: every installed engine, on every device it has here, against
the NumPy float64 reference, over a pairwise design of every training choice.

Each case trains 2 runs of a small problem (m = 20, n = 8) for 12 updates, at
full batch or with B = 8 (batches of 8, 8 and a short 4), from the same
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

The full product of the choices (13 optimizers-with-settings x 5 schedules x 11
activations x 2 initializers x 2 depths x 2 outputs x 2 losses x 2 batch sizes
x 2 weight decays x 4 weight penalties, 183,040 cases) is far too large, so the
cases are two pairwise designs (pairwise.py), in each of which every pair of
levels of any two factors is trained by at least one case, on every engine. The
optimizer design (66 cases, one more than the product of its two largest
factors, the least any such design can have) has every optimizer meet every
schedule and every weight penalty, on the seed's three activations: an
optimizer sees only gradients. The network design (22 cases) trains every
activation (leaky_relu at a slope of its own) with two initializers (Keras'
zero biases, scikit-learn's drawn ones), both depths, outputs, losses and batch
sizes, by SGD. Beside them, every optimizer with every schedule on the seed
network, on numba. Softmax outputs are 3 classes on 3 inputs read from a CSV
file (so the file path is under test too); a unit output is the seed's
quadratic set. The optimizers-with-settings are each optimizer at its Keras
defaults and five arms that set every other setting (momentum, Nesterov,
centring, rho, amsgrad, betas, epsilon, the initial accumulator).

A new engine in engines.ENGINES is under both designs with no edit here.
The mutation tests break each activation's derivative and optimizer rules on
purpose in each compiled or framework engine and check that the suite would
fail them.
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
from mlpbench.nn.optimizers import OPTIMIZERS, Settings
from mlpbench.nn.regularizers import SETTINGS as PENALTY_SETTINGS
from mlpbench.nn.schedules import SCHEDULES
from mlpbench.nn.schedules import SETTINGS as SCHEDULE_SETTINGS
from pairwise import all_pairs, pairs_of

SEEDS = [0, 1]
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
# a rate for each optimizer at which 12 updates train the small problems here
RATES = {"sgd": 0.5, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05, "adagrad": 0.1,
         "adamax": 0.05, "nadam": 0.05, "lion": 0.01}  # fmt: skip
SETTINGS_ARMS = (
    {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
    {"optimizer": "sgd", "momentum": 0.5},
    {"optimizer": "rmsprop", "momentum": 0.5, "centered": True, "rho": 0.8, "epsilon": 1e-5},
    {"optimizer": "adam", "amsgrad": True, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5},
    {"optimizer": "adagrad", "initial_accumulator": 0.5, "epsilon": 1e-5},
)
ARMS = tuple({"optimizer": o} for o in RATES) + SETTINGS_ARMS
# every schedule over the cases' 12 updates, each setting it reads away from its default
SCHEDULE_ARMS = (
    {"schedule": "constant"},
    {"schedule": "exponential", "decay_rate": 0.5, "decay_steps": 3},
    {"schedule": "inverse_time", "decay_rate": 1.0, "staircase": True, "power_t": 0.5},
    {"schedule": "cosine", "alpha": 0.1, "warmup_steps": 3, "warmup_target": 2.0},
    {"schedule": "piecewise", "boundaries": (3, 7), "values": (1.0, 0.5, 0.25)},
)
# no weight penalty, each penalty alone, and both
PENALTY_ARMS = ({}, {"l1": 0.01}, {"l2": 0.02}, {"l1": 0.005, "l2": 0.01})
# the optimizer design's activations: the seed's three (an optimizer sees only gradients;
# every activation is trained by the network design below)
FACTORS = {"arm": ARMS, "schedule": SCHEDULE_ARMS, "activation": ("sigmoid", "tanh", "relu"),
           "hidden": ((3,), (4, 3)), "output": ("unit", "softmax"),
           "loss": ("cross-entropy", "mse"), "batch": (None, 8),
           "weight_decay": (None, 0.05), "penalty": PENALTY_ARMS}  # fmt: skip
DESIGN = all_pairs(FACTORS)
# the network design: every activation with two initializers (Keras' zero biases and
# scikit-learn's drawn ones, which every engine must read) and each shape, output, loss and
# batch size, pairwise, trained by SGD at a constant rate
NETWORK_FACTORS = {"activation": tuple(ACTIVATIONS), "init": ("glorot_uniform", "sklearn"),
                   "hidden": ((3,), (4, 3)), "output": ("unit", "softmax"),
                   "loss": ("cross-entropy", "mse"), "batch": (None, 8)}  # fmt: skip
NETWORK_DESIGN = all_pairs(NETWORK_FACTORS)
LEAKY_SLOPE = 0.1  # leaky_relu's cases train at a slope other than its default


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


def config_for(activation, hidden, loss, optimizer, batch, data="quadratic", **settings
               ) -> Config:  # fmt: skip
    """12 updates: 12 full-batch epochs, or 4 epochs of 3 batches."""
    if activation == "leaky_relu":
        settings = {"negative_slope": LEAKY_SLOPE} | settings
    return Config(data=data, m=20, n=8, hidden=hidden, activation=activation, loss=loss,
                  optimizer=optimizer, lr=RATES[optimizer], batch_size=batch,
                  epochs=12 if batch is None else 4, **settings)  # fmt: skip


def case_config(case: dict, three_classes: str) -> Config:
    """A case of either design as a configuration (the network design's at SGD)."""
    softmax = case["output"] == "softmax"
    loss = "mse" if case["loss"] == "mse" else ("cce" if softmax else "bce")
    rest = {name: case[name] for name in ("weight_decay", "init") if name in case}
    for name in ("arm", "schedule", "penalty"):
        rest |= case.get(name, {})
    return config_for(case["activation"], case["hidden"], loss, rest.pop("optimizer", "sgd"),
                      batch=case["batch"], data=three_classes if softmax else "quadratic",
                      **rest)  # fmt: skip


@functools.cache
def reference(config: Config) -> list:
    return engines.train("numpy", config, SEEDS, "float64")


def distance(name: str, device: str, config: Config) -> tuple[float, float]:
    """Largest relative loss-curve difference and relative weight distance to the reference."""
    results = engines.train(name, config, SEEDS, device=device)
    d = difference(results, reference(config), name, engines.default_dtype(name))
    return d.curve, d.weights


def _case_id(case: dict) -> str:
    arm = "-".join(f"{v}" if k == "optimizer" else f"{k}{v}" for k, v in case["arm"].items())
    rest = [case["schedule"]["schedule"], case["activation"],
            "x".join(map(str, case["hidden"])), case["output"], case["loss"],
            f"B{case['batch'] or 'all'}", f"wd{case['weight_decay'] or 0}",
            "".join(f"{k}_{v}" for k, v in case["penalty"].items()) or "nopenalty"]
    return "-".join([arm, *rest])


@pytest.mark.parametrize("case", DESIGN, ids=[_case_id(c) for c in DESIGN])
@pytest.mark.parametrize(("name", "device"), engines_here())
def test_engine_conforms(name, device, case, three_classes):
    config = case_config(case, three_classes)
    if case["output"] == "softmax":
        assert config.layer_sizes == (3, *case["hidden"], 3)
    tolerance = TOLERANCE[engines.default_dtype(name)]
    curve, weights = distance(name, device, config)
    assert curve <= tolerance and weights <= tolerance, (curve, weights)


def _network_id(case: dict) -> str:
    return "-".join([case["activation"], case["init"], "x".join(map(str, case["hidden"])),
                     case["output"], case["loss"], f"B{case['batch'] or 'all'}"])


@pytest.mark.parametrize("case", NETWORK_DESIGN, ids=[_network_id(c) for c in NETWORK_DESIGN])
@pytest.mark.parametrize(("name", "device"), engines_here())
def test_engine_conforms_on_every_network(name, device, case, three_classes):
    config = case_config(case, three_classes)
    assert config.init == case["init"] and config.optimizer == "sgd"
    tolerance = TOLERANCE[engines.default_dtype(name)]
    curve, weights = distance(name, device, config)
    assert curve <= tolerance and weights <= tolerance, (curve, weights)


# optimizer x schedule in full on the seed's 2-3-1 sigmoid network (BCE, full batch), on
# numba, whose kernel compiles in the rate (every engine also meets every optimizer with every
# schedule in the design above, each pair once, on other networks)
PRODUCT = [(o, arm) for o in RATES for arm in SCHEDULE_ARMS[1:]]
OWN_SCHEDULE_CODE = ("numba",)


@pytest.mark.parametrize(("optimizer", "schedule"), PRODUCT,
                         ids=[f"{o}-{a['schedule']}" for o, a in PRODUCT])  # fmt: skip
@pytest.mark.parametrize(("name", "device"),
                         [e for e in engines_here() if e[0] in OWN_SCHEDULE_CODE])  # fmt: skip
def test_every_optimizer_follows_every_schedule(name, device, optimizer, schedule):
    config = config_for("sigmoid", (3,), "bce", optimizer, None, **schedule)
    tolerance = TOLERANCE[engines.default_dtype(name)]
    curve, weights = distance(name, device, config)
    assert curve <= tolerance and weights <= tolerance, (curve, weights)


@pytest.mark.parametrize(("factors", "design"), [(FACTORS, DESIGN),
                                                  (NETWORK_FACTORS, NETWORK_DESIGN)])
def test_each_design_covers_every_pair_of_levels(factors, design):
    names = list(factors)
    covered = set().union(*(pairs_of([factors[n].index(c[n]) for n in names]) for c in design))
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        for x, y in itertools.product(range(len(factors[a])), range(len(factors[b]))):
            assert (i, x, j, y) in covered, (a, factors[a][x], b, factors[b][y])
    largest = sorted(len(levels) for levels in factors.values())[-2:]
    lower_bound = largest[0] * largest[1]  # the two largest factors' sizes
    assert lower_bound <= len(design) <= lower_bound + 6, len(design)


def test_the_design_trains_every_registered_choice():
    assert {arm["optimizer"] for arm in ARMS} == set(OPTIMIZERS) == set(RATES)
    assert set(NETWORK_FACTORS["activation"]) == set(ACTIVATIONS)
    with_settings = {name for arm in SETTINGS_ARMS for name in arm} - {"optimizer"}
    assert with_settings | {"weight_decay"} == set(Settings._fields)
    # an adaptive schedule (plateau) is trained by the engines that compute rates as they
    # train, which have no other engine to agree with: test_plateau.py holds it
    fixed = {name for name, schedule in SCHEDULES.items() if not schedule.adaptive}
    assert {arm["schedule"] for arm in SCHEDULE_ARMS} == fixed
    read = {n for name in fixed for n in SCHEDULES[name].defaults}
    assert {n for arm in SCHEDULE_ARMS for n in arm} - {"schedule"} == read
    assert read | {n for s in SCHEDULES.values() if s.adaptive for n in s.defaults} == set(
        SCHEDULE_SETTINGS)
    assert {n for arm in PENALTY_ARMS for n in arm} == set(PENALTY_SETTINGS)
    losses = {case_config(c, "three.csv").loss if c["output"] == "unit" else
              ("mse" if c["loss"] == "mse" else "cce") for c in DESIGN}  # fmt: skip
    assert losses == set(LOSSES)


def test_every_engine_declares_the_whole_registry():
    """The grid above runs every registered activation, loss and optimizer on every engine."""
    for name in engines.ENGINES:
        caps = engines.spec(name).capabilities
        assert caps.activations is caps.losses is caps.optimizers is None, name
