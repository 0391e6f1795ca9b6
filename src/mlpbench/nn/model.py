"""The MLP's parameters, forward pass and initialisation, shared by every engine.

Parameters are a flat list [W1, b1, W2, b2, ...]; W_l has shape
(R, fan_in, fan_out) and b_l shape (R, fan_out), the leading axis running
over independent runs. The output layer is one sigmoid unit for two classes,
or k units under a softmax for k >= 3 classes; which one follows from the
logits' last axis (1 or k), so no flag can disagree with the weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from mlpbench.data.streams import INIT_STREAM, rng_for
from mlpbench.nn.activations import Hidden
from mlpbench.nn.initializers import INITIALIZERS

Params = list[np.ndarray]


def forward(params: Params, x: np.ndarray, activation: Hidden,
            masks: list[np.ndarray] | None = None) -> tuple[list, list, np.ndarray]:  # fmt: skip
    """Pre-activations and activations of each hidden layer, and the output logits (R, B, k);
    with dropout masks (training), each hidden activation times its layer's mask."""
    act = activation.value
    a, pres, acts = x, [], [x]
    n_layers = len(params) // 2
    for layer in range(n_layers - 1):
        z = a @ params[2 * layer] + params[2 * layer + 1][:, None, :]
        a = act(z) if masks is None else act(z) * masks[layer]
        pres.append(z)
        acts.append(a)
    logit = a @ params[-2] + params[-1][:, None, :]
    return pres, acts, logit


def logits(params: Params, x: np.ndarray, activation: Hidden) -> np.ndarray:
    """Output logits only, for prediction and plots."""
    return forward(params, x, activation)[2]


def run_params(sizes: Sequence[int], seed: int, init: str = "glorot_uniform",
               activation: str = "sigmoid") -> Params:  # fmt: skip
    """One run's starting parameters, drawn layer by layer from its init stream by the named
    initializer (initializers.py), so they depend on the seed, the layer sizes, the
    initializer and (scikit-learn's only) the hidden activation."""
    rng, draw = rng_for(seed, INIT_STREAM), INITIALIZERS[init].draw
    params: Params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.extend(draw(rng, fan_in, fan_out, activation))
    return params


def init_params(sizes: Sequence[int], seeds: Sequence[int], dtype: str = "float64",
                init: str = "glorot_uniform", activation: str = "sigmoid") -> Params:  # fmt: skip
    """Initial parameters of R runs stacked on a leading run axis."""
    per_run = [run_params(sizes, s, init, activation) for s in seeds]
    return [np.stack(parts).astype(dtype) for parts in zip(*per_run)]
