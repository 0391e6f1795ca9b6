"""The initializer alone, on scikit-learn's own gallery case: mlpbench with Keras' start and
with scikit-learn's (init = "sklearn") beside scikit-learn's MLPClassifier itself.

    python benchmarks/sklearn_circles.py [--runs 20]

The data are the gallery's circles ("Compare stochastic learning strategies for
MLPClassifier": make_circles(noise=0.2, factor=0.5, random_state=1), MinMax-scaled),
written to a CSV file that is both the train and the test file, so the test accuracy is
the training-set score the gallery prints. Each trains 100 relu units by SGD at rate 0.2
without momentum, at full batch (scikit-learn's batch_size = min(200, 100)), with
scikit-learn's alpha = 1e-4 (l2 = alpha / (2 * 100)) and its stopping rule (tol 1e-4,
n_iter_no_change 10: stop_min_delta 1e-4, stop_patience 11, under Keras' rule and under
stop_rule = "sklearn") for at most 400 epochs, and again without stopping.
scikit-learn's seeds are MLPClassifier's random_state 0..R-1; mlpbench's are its seeds
0..R-1 (other numbers from the same distributions).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_circles
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MinMaxScaler

import mlpbench as mb

EPOCHS, RATE, ALPHA, TOL, NO_CHANGE = 400, 0.2, 1e-4, 1e-4, 10


def circles(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    x, y = make_circles(noise=0.2, factor=0.5, random_state=1)
    x = MinMaxScaler().fit_transform(x)
    path = folder / "circles.csv"
    rows = [f"{float(a)!r},{float(b)!r},{int(c)}" for (a, b), c in zip(x, y)]
    path.write_text("\n".join(["x1,x2,y", *rows]) + "\n")
    return path, x, y


def sklearn_scores(x: np.ndarray, y: np.ndarray, runs: int, stop: bool) -> np.ndarray:
    scores = []
    for seed in range(runs):
        mlp = MLPClassifier(solver="sgd", learning_rate="constant", momentum=0.0,
                            learning_rate_init=RATE, max_iter=EPOCHS, alpha=ALPHA, tol=TOL,
                            n_iter_no_change=NO_CHANGE if stop else EPOCHS,
                            random_state=seed)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(x, y)
        scores.append(100 * mlp.score(x, y))
    return np.array(scores)


def mlpbench_scores(path: Path, runs: int, init: str, stop: bool, rule: str = "keras"
                    ) -> np.ndarray:  # fmt: skip
    stopping = dict(early_stopping="loss", stop_patience=NO_CHANGE + 1, stop_min_delta=TOL,
                    stop_rule=rule)  # fmt: skip
    result = mb.train(runs=runs, engine="numpy", data=str(path), test=str(path), scale="none",
                      hidden=(100,), activation="relu", optimizer="sgd", lr=RATE,
                      l2=ALPHA / (2 * 100), epochs=EPOCHS, init=init,
                      **(stopping if stop else {}))  # fmt: skip
    return np.array([r.metrics["test_accuracy"] for r in result.runs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, x, y = circles(Path(tmp))
        for stop in (False, True):
            rows = [("mlpbench, init glorot_uniform (Keras')",
                     mlpbench_scores(path, args.runs, "glorot_uniform", stop)),
                    ("mlpbench, init sklearn", mlpbench_scores(path, args.runs, "sklearn", stop))]
            if stop:
                rows.append(("mlpbench, init sklearn, stop_rule sklearn",
                             mlpbench_scores(path, args.runs, "sklearn", stop, "sklearn")))
            rows.append(("scikit-learn MLPClassifier", sklearn_scores(x, y, args.runs, stop)))
            print(f"training accuracy on the gallery's circles, {args.runs} seeds, "
                  f"{'each stopping by its own rule' if stop else f'{EPOCHS} epochs'} "
                  "(mean ± sd):")
            for label, scores in rows:
                print(f"  {label:44s} {scores.mean():5.1f} ± {scores.std(ddof=1):.1f}%")


if __name__ == "__main__":
    main()
