"""Which runs of a configuration turn on last-bit differences?

    python benchmarks/sensitivity.py [--loss bce] [--optimizer sgd] [--lr 10]
        [--batch-size B] [--epochs 1000] [--runs 20]

Engines agree to rounding, not bit for bit (their exp, their order of
summation), so a run whose outcome is chaotic can end differently on two
engines. This trains each run on the NumPy engine from its initial weights,
then again from those weights times (1 + eps) for eps of a few units in the
last place, and lists the runs whose test accuracy moves.
"""

from __future__ import annotations

import argparse

from mlpbench import engines
from mlpbench.config.core import Config
from mlpbench.engines import harness

EPSILONS = (1e-16, -1e-16, 3e-16, -3e-16, 1e-15, -1e-15)


def perturbed_prepare(scale: float):
    """The harness's prepare, with the initial weights multiplied by scale."""
    original = harness.prepare

    def prepare(config, seeds, dtype):
        data, params, orders = original(config, seeds, dtype)
        return data, [p * scale for p in params], orders

    return prepare


def main() -> None:
    """Print each sensitive run's test accuracy, unperturbed and at each eps."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loss", default="bce")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--lr", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    config = Config(
        loss=args.loss,
        optimizer=args.optimizer,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
    )
    seeds = list(range(args.runs))
    base = [r.metrics["test_accuracy"] for r in engines.train("numpy", config, seeds)]
    moved = {seed: {} for seed in seeds}
    original = harness.prepare
    try:
        for eps in EPSILONS:
            harness.prepare = perturbed_prepare(1 + eps)
            for seed, r in zip(seeds, engines.train("numpy", config, seeds)):
                moved[seed][eps] = r.metrics["test_accuracy"]
    finally:
        harness.prepare = original
    print(f"{config.loss} {config.optimizer} lr {config.lr} batch {config.batch}, NumPy engine")
    print("seed  test accuracy (%) unperturbed, then at eps = " + ", ".join(map(str, EPSILONS)))
    sensitive = [s for s in seeds if any(v != base[s] for v in moved[s].values())]
    for seed in sensitive:
        print(f"{seed:>4}  {base[seed]:.1f}  " + " ".join(f"{v:.1f}" for v in moved[seed].values()))
    print(f"{len(sensitive)} of {len(seeds)} runs change their test accuracy")


if __name__ == "__main__":
    main()
