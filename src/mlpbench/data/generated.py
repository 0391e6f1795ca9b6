"""Generated 2-D data sets: the seed study's, TensorFlow Playground's four and two moons.
Each run draws fresh points from its own data stream (formula sets are in data.py).

A generator takes (rng, count, noise) and returns points (count, d) and
boolean labels; `truth` gives the noise-free label anywhere, so plots can
draw the true boundary as its contour. Playground's sets follow its
dataset.ts: points in [-6, 6]^2, noise a fraction in [0, 1] (its slider's
0-50 % is 0-0.5 here), labels +1 / -1 there are True / False here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Points = tuple[np.ndarray, np.ndarray]
RADIUS = 5.0  # Playground's circle radius, and the extent of xor and spiral


class Generated(NamedTuple):
    """A generated binary data set: its points, the noise-free label (None: no closed form
    to draw), and its plot range."""

    generate: Callable[[np.random.Generator, int, float], Points]
    truth: Callable[[np.ndarray], np.ndarray] | None
    extent: tuple[float, float]
    description: str
    noisy: bool = False  # takes a noise level


def _quadratic(rng: np.random.Generator, count: int, noise: float) -> Points:
    x = rng.uniform(-2.0, 2.0, size=(count, 2))
    return x, x[:, 0] ** 2 > x[:, 1]


def _quadratic_int(rng: np.random.Generator, count: int, noise: float) -> Points:
    x = rng.integers(-2, 2, size=(count, 2), endpoint=True).astype(np.float64)
    return x, x[:, 0] ** 2 > x[:, 1]


def _linear_int(rng: np.random.Generator, count: int, noise: float) -> Points:
    x = rng.integers(-10, 10, size=(count, 2), endpoint=True).astype(np.float64)
    return x, x[:, 0] + x[:, 1] > 0


def _halves(count: int) -> tuple[int, int]:
    return count // 2, count - count // 2


def _circle_truth(x: np.ndarray) -> np.ndarray:
    return np.hypot(x[:, 0], x[:, 1]) < RADIUS * 0.5


def _circle(rng: np.random.Generator, count: int, noise: float) -> Points:
    """Half the points inside radius 2.5, half in the ring 3.5..5; the label is taken at the
    point moved by uniform noise of up to noise x 5 in each coordinate."""
    parts = []
    for size, (low, high) in zip(_halves(count), ((0, 0.5), (0.7, 1.0))):
        r = rng.uniform(RADIUS * low, RADIUS * high, size)
        angle = rng.uniform(0, 2 * math.pi, size)
        parts.append(np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1))
    x = np.concatenate(parts)
    shift = rng.uniform(-RADIUS, RADIUS, x.shape) * noise
    return x, _circle_truth(x + shift)


def _xor_truth(x: np.ndarray) -> np.ndarray:
    return x[:, 0] * x[:, 1] >= 0


def _xor(rng: np.random.Generator, count: int, noise: float) -> Points:
    """Uniform in [-5, 5]^2 pushed 0.3 away from both axes; label by quadrant of the point
    moved by uniform noise of up to noise x 5."""
    x = rng.uniform(-RADIUS, RADIUS, (count, 2))
    x += np.where(x > 0, 0.3, -0.3)
    shift = rng.uniform(-RADIUS, RADIUS, x.shape) * noise
    return x, _xor_truth(x + shift)


def _gauss_truth(x: np.ndarray) -> np.ndarray:
    return x[:, 0] + x[:, 1] > 0


def _gauss(rng: np.random.Generator, count: int, noise: float) -> Points:
    """Two Gaussians at (2, 2) (True) and (-2, -2) (False); variance 0.5 at noise 0 up to 4
    at noise 0.5 (Playground's scale), growing on at the same rate above."""
    variance = 0.5 + 7.0 * noise
    first, second = _halves(count)
    centres = np.repeat([[2.0, 2.0], [-2.0, -2.0]], [first, second], axis=0)
    x = centres + rng.normal(0.0, math.sqrt(variance), (count, 2))
    return x, np.arange(count) < first


def _spiral_arm(rng: np.random.Generator, size: int, delta: float, noise: float) -> np.ndarray:
    i = rng.uniform(0.0, 1.0, size)  # Playground spaces them evenly: the same every run
    r, t = i * RADIUS, 1.75 * i * 2 * math.pi + delta
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    return x + rng.uniform(-1, 1, (size, 2)) * noise


def _spiral(rng: np.random.Generator, count: int, noise: float) -> Points:
    """Two interleaved arms of 1.75 turns out to radius 5, points at random along them;
    uniform noise of up to noise on each coordinate."""
    first, second = _halves(count)
    x = np.concatenate([_spiral_arm(rng, first, 0.0, noise),
                        _spiral_arm(rng, second, math.pi, noise)])  # fmt: skip
    return x, np.arange(count) < first


def _moons(rng: np.random.Generator, count: int, noise: float) -> Points:
    """scikit-learn's two moons, angles drawn at random: the upper half circle (False) and
    the lower one shifted to (1, -0.5) (True); Gaussian noise of standard deviation noise."""
    first, second = _halves(count)
    a, b = rng.uniform(0, math.pi, first), rng.uniform(0, math.pi, second)
    x = np.concatenate([np.stack([np.cos(a), np.sin(a)], axis=1),
                        np.stack([1 - np.cos(b), 0.5 - np.sin(b)], axis=1)])  # fmt: skip
    return x + rng.normal(0.0, noise, x.shape) if noise else x, np.arange(count) >= first


GENERATED: dict[str, Generated] = {
    "quadratic": Generated(_quadratic, lambda x: x[:, 0] ** 2 > x[:, 1], (-2.0, 2.0),
                           "x ~ U(-2, 2)^2, y = [x1^2 > x2] (the seed study)"),
    "quadratic-int": Generated(_quadratic_int, lambda x: x[:, 0] ** 2 > x[:, 1], (-2.5, 2.5),
                               "x integers in [-2, 2], y = [x1^2 > x2]"),
    "linear-int": Generated(_linear_int, lambda x: x[:, 0] + x[:, 1] > 0, (-10.5, 10.5),
                            "x integers in [-10, 10], y = [x1 + x2 > 0]"),
    "circle": Generated(_circle, _circle_truth, (-6.0, 6.0),
                        "Playground: a disc of radius 2.5 inside a ring to 5", True),
    "xor": Generated(_xor, _xor_truth, (-6.0, 6.0), "Playground: y = [x1 x2 >= 0]", True),
    "gauss": Generated(_gauss, _gauss_truth, (-6.0, 6.0),
                       "Playground: two Gaussians at (2, 2) and (-2, -2)", True),
    "spiral": Generated(_spiral, None, (-6.0, 6.0), "Playground: two spiral arms", True),
    "moons": Generated(_moons, None, (-1.5, 2.5), "two interleaved half circles", True),
}  # fmt: skip
