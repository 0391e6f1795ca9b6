"""Learning-rate schedules: each factor table against Keras' own schedule class, worked values
at every boundary, scikit-learn's invscaling in our terms, and every refusal in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlpbench import cli
from mlpbench.config.core import Config
from mlpbench.errors import UsageError
from mlpbench.nn.schedules import SCHEDULES, Steps, factors, resolve

STEPS = Steps(per_epoch=4, total=40)


def _factors(schedule: str, **given) -> np.ndarray:
    return factors(schedule, resolve(schedule, given, STEPS), STEPS.total)


# (our schedule and settings, Keras' class and arguments at initial_learning_rate = 1)
KERAS_CASES = [
    (("exponential", {"decay_rate": 0.5, "decay_steps": 7}),
     ("ExponentialDecay", {"decay_steps": 7, "decay_rate": 0.5})),
    (("exponential", {"decay_rate": 0.9, "decay_steps": 3, "staircase": True}),
     ("ExponentialDecay", {"decay_steps": 3, "decay_rate": 0.9, "staircase": True})),
    (("inverse_time", {"decay_rate": 2.0, "decay_steps": 5}),
     ("InverseTimeDecay", {"decay_steps": 5, "decay_rate": 2.0})),
    (("inverse_time", {"decay_rate": 0.5, "decay_steps": 4, "staircase": True}),
     ("InverseTimeDecay", {"decay_steps": 4, "decay_rate": 0.5, "staircase": True})),
    (("cosine", {"decay_steps": 30, "alpha": 0.2}),
     ("CosineDecay", {"decay_steps": 30, "alpha": 0.2})),
    (("cosine", {"decay_steps": 25, "warmup_steps": 10, "warmup_target": 3.0, "alpha": 0.1}),
     ("CosineDecay", {"decay_steps": 25, "warmup_steps": 10, "warmup_target": 3.0,
                      "alpha": 0.1})),
    (("piecewise", {"boundaries": (5, 20), "values": (1.0, 0.5, 0.1)}),
     ("PiecewiseConstantDecay", {"boundaries": [5, 20], "values": [1.0, 0.5, 0.1]})),
]  # fmt: skip


@pytest.mark.parametrize(("ours", "theirs"), KERAS_CASES,
                         ids=[f"{o[0]}-{i}" for i, (o, _) in enumerate(KERAS_CASES)])  # fmt: skip
def test_every_factor_is_keras_schedule_at_that_step(ours, theirs):
    keras = pytest.importorskip("keras")
    name, kwargs = theirs
    schedule = getattr(keras.optimizers.schedules, name)
    if name != "PiecewiseConstantDecay":
        kwargs = {"initial_learning_rate": 1.0, **kwargs}
    keras_schedule = schedule(**kwargs)
    want = [float(keras_schedule(s)) for s in range(STEPS.total)]  # Keras' step: 0 first
    np.testing.assert_allclose(_factors(ours[0], **ours[1]), want, rtol=2e-6, atol=1e-7)


def test_a_schedule_scales_with_lr_as_keras_would_built_at_that_rate():
    """lr * f(s) is Keras' schedule built with initial_learning_rate = lr, warmup_target and
    values scaled by lr (each Keras schedule is homogeneous in its rates)."""
    keras = pytest.importorskip("keras")
    lr = 0.37
    keras_schedule = keras.optimizers.schedules.CosineDecay(
        lr, decay_steps=20, alpha=0.1, warmup_target=2.0 * lr, warmup_steps=5)
    want = [float(keras_schedule(s)) for s in range(40)]
    got = lr * _factors("cosine", decay_steps=20, alpha=0.1, warmup_steps=5, warmup_target=2.0)
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_worked_values_at_each_boundary():
    # piecewise: values[0] up to and at the first boundary, the next from just after it
    f = _factors("piecewise", boundaries=(3, 6), values=(1.0, 0.5, 0.25))
    assert list(f[:8]) == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    # exponential: exactly 0.5 after decay_steps, 0.25 after twice; staircase holds within
    f = _factors("exponential", decay_rate=0.5, decay_steps=4)
    assert (f[0], f[4], f[8]) == (1.0, 0.5, 0.25) and f[2] == pytest.approx(2**-0.5)
    f = _factors("exponential", decay_rate=0.5, decay_steps=4, staircase=True)
    assert list(f[:9]) == [1.0] * 4 + [0.5] * 4 + [0.25]
    # cosine: 1 at 0, (1 + alpha) / 2 halfway, alpha at decay_steps and after
    f = _factors("cosine", decay_steps=10, alpha=0.2)
    assert f[0] == 1.0 and f[5] == pytest.approx(0.6) and f[10] == pytest.approx(0.2)
    assert np.all(f[10:] == f[10])
    # warmup: from 1 up to the target at warmup_steps, then decaying from the target
    f = _factors("cosine", decay_steps=10, warmup_steps=4, warmup_target=3.0)
    assert list(f[:5]) == [1.0, 1.5, 2.0, 2.5, 3.0] and f[14] == pytest.approx(0.0, abs=1e-15)
    # inverse_time: 1 / (1 + rate * s / steps) ^ power_t
    f = _factors("inverse_time", decay_rate=3.0, decay_steps=2, power_t=0.5)
    assert f[2] == pytest.approx(0.5) and f[10] == pytest.approx(1 / 4)


def test_scikit_learns_invscaling_in_our_terms():
    """scikit-learn: lr / (t + 1) ^ power_t, t the samples seen when the epoch starts, set
    once an epoch; here decay_rate = m, decay_steps = one epoch's updates, staircase."""
    m, batch, power_t = 30, 8, 0.5
    config = Config(m=m, n=10, batch_size=batch, epochs=5, schedule="inverse_time",
                    decay_rate=float(m), staircase=True, power_t=power_t)  # fmt: skip
    per_epoch = math.ceil(m / batch)
    want = [1 / (epoch * m + 1) ** power_t for epoch in range(5) for _ in range(per_epoch)]
    np.testing.assert_allclose(config.rate_factors(), want, rtol=1e-15)


def test_decay_steps_default_to_an_epoch_and_cosine_to_the_run():
    config = Config(m=30, n=10, batch_size=8, epochs=5, schedule="exponential", decay_rate=0.5)
    assert config.steps == Steps(4, 20) and config.schedule_settings["decay_steps"] == 4
    cosine = config.replace(schedule="cosine", decay_rate=None, warmup_steps=5, warmup_target=2.0)
    assert cosine.schedule_settings["decay_steps"] == 15  # after the warmup, to the last update
    assert cosine.rate_factors()[-1] == pytest.approx(2.0 * (np.cos(np.pi * 14 / 15) / 2 + 0.5))


def test_a_default_given_is_the_configuration_left_out():
    base = Config(m=30, n=10, batch_size=8, epochs=5, schedule="exponential", decay_rate=0.5)
    assert base.replace(decay_steps=4).key() == base.key()  # one epoch's updates
    assert base.replace(staircase=False).key() == base.key()
    assert base.replace(decay_steps=5).key() != base.key()
    assert Config().key() == Config(schedule="constant").key()  # older stores' keys hold
    # a number given as an integer is the same configuration as its float
    assert base.replace(decay_rate=1).key() == base.replace(decay_rate=1.0).key()
    cosine = base.replace(schedule="cosine", decay_rate=None)
    assert cosine.replace(warmup_steps=2, warmup_target=2).key() == cosine.replace(
        warmup_steps=2, warmup_target=2.0).key()


@pytest.mark.parametrize(("given", "message"), [
    ({"schedule": "exponential"}, "schedule 'exponential' needs decay_rate"),
    ({"schedule": "piecewise", "values": (1.0, 0.5)}, "needs boundaries"),
    ({"decay_rate": 0.5}, "decay_rate applies to schedule exponential, inverse_time, not to "
                          "'constant'"),
    ({"schedule": "cosine", "power_t": 0.5}, "power_t applies to schedule inverse_time"),
    ({"schedule": "cosine", "warmup_steps": 3}, "needs both warmup_steps and warmup_target"),
    ({"schedule": "cosine", "warmup_target": 2.0}, "needs both warmup_steps and warmup_target"),
    ({"schedule": "cosine", "warmup_steps": 10**6, "warmup_target": 2.0},
     "leaves no update to decay over"),
    ({"schedule": "piecewise", "boundaries": (5, 3), "values": (1.0, 0.5, 0.1)},
     "boundaries must increase, got [5, 3]"),
    ({"schedule": "piecewise", "boundaries": (5,), "values": (1.0, 0.5, 0.1)},
     "one value more than boundaries, got 1 boundaries and 3 values"),
    ({"schedule": "piecewise", "boundaries": (5,), "values": (1.0, -0.5)},
     "values must be a list of 2 to 101 finite numbers > 0"),
    ({"schedule": "piecewise", "boundaries": (-1,), "values": (1.0, 0.5)},
     "boundaries must be a list of 1 to 100 update counts"),
    ({"schedule": "exponential", "decay_rate": 0.0}, "decay_rate must be a number > 0"),
    ({"schedule": "cosine", "alpha": 1.5}, "alpha must be a number in [0, 1)"),
    ({"schedule": "warmup"}, "unknown schedule 'warmup'; allowed: constant, exponential"),
])  # fmt: skip
def test_a_bad_schedule_is_one_line(given, message):
    with pytest.raises(UsageError) as e:
        Config(m=30, n=10, epochs=5, **given)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_every_schedule_is_in_the_table_and_documented():
    assert set(SCHEDULES) == {"constant", "exponential", "inverse_time", "cosine", "piecewise",
                              "plateau"}
    for name in SCHEDULES:
        assert f"- {name}:" in __import__("mlpbench.nn.schedules").nn.schedules.__doc__


def test_schedules_from_the_command_line_and_a_study_file(tmp_path, capsys):
    argv = ["train", "--m", "40", "--n", "10", "--epochs", "8", "--batch-size", "10", "--runs",
            "2", "--engine", "numpy", "--schedule", "piecewise", "--boundaries", "8,16",
            "--values", "1,0.5,0.1", "--json", "--out", str(tmp_path / "a")]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    cli_out = capsys.readouterr().out
    assert '"boundaries": [8, 16]' in cli_out and '"values": [1.0, 0.5, 0.1]' in cli_out
    study = tmp_path / "s.toml"
    study.write_text("runs = 2\n[defaults]\nm = 40\nn = 10\nepochs = 8\nbatch_size = 10\n"
                     "[defaults.schedule]\nname = \"exponential\"\ndecay_rate = 0.5\n"
                     "[[tables]]\nnumber = 1\nname = \"t\"\ntitle = \"t\"\n"
                     "rows = [\"accuracy\"]\n[[tables.columns]]\nlabel = \"decayed\"\n")
    assert cli.main(["run", str(study), "--out", str(tmp_path / "b"), "--engine", "numpy"]) == 0
