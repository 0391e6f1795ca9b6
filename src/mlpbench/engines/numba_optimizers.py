"""The numba engine's optimizer steps: Keras 3's rules (optimizers.py) one parameter at a time.

Two step functions, and a kernel variant compiles exactly one (kernels()):
- _plain_step: sgd, rmsprop and adam at any rho, betas and epsilon, without
  momentum, centring, amsgrad or weight decay, as the seed study trains them.
  A study that asks for nothing else compiles none of the code below;
- _extended_step: every optimizer with every setting, the optimizer and its
  switches (momentum, nesterov, centered, amsgrad, weight decay) read at run
  time, so one compile serves a study of all eight optimizers. A variant per
  optimizer would compile the whole training kernel once per optimizer
  (about 10 s each, cold, on our 2-core machine) for a branch that costs
  nothing measurable per update (benchmarks/optimizers.py).

Conventions: every coefficient is in `k`, the parameters' float width; the
quantities that depend only on the step number t (Adam's sqrt(1 - beta_2^t)
and 1 - beta_1^t, Nadam's momentum schedule and its running product) are
computed once for every step by step_table(), as the NumPy rule computes
them; each expression keeps the NumPy rule's order of operations, so float64
trajectories agree to rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from mlpbench.engines.numba_softmax import ONE, ZERO
from mlpbench.nn.optimizers import NADAM_DECAY, Settings

# indices into numba_kernels.constants(): 0, 1, 2 first (numba_softmax's), then the settings
(RHO, ONE_M_RHO, BETA_1, ONE_M_B1, BETA_2, ONE_M_B2, EPS, MOMENTUM, WD, HALF, DECAY_BASE,
 NESTEROV, CENTERED, AMSGRAD, M2_START) = range(3, 18)  # fmt: skip
OPTIMIZER_CONSTANTS = M2_START - RHO + 1  # how many optimizer_constants() gives
# columns of step_table(): one row per step t (row 0 unused)
ROOT, DENOMINATOR, MU, MU_NEXT, PRODUCT, PRODUCT_NEXT, B2_CORRECTION = range(7)
SGD, RMSPROP, ADAM, ADAMW, ADAGRAD, ADAMAX, NADAM, LION = range(8)
OPTIMIZER_CODES = {"sgd": SGD, "rmsprop": RMSPROP, "adam": ADAM, "adamw": ADAMW,
                   "adagrad": ADAGRAD, "adamax": ADAMAX, "nadam": NADAM, "lion": LION}
PLAIN = ("sgd", "rmsprop", "adam")
# the step_table() columns each optimizer reads (Adam's two; Nadam's every one)
TABLE_COLUMNS = {"adam": 2, "adamw": 2, "adamax": 2, "nadam": 7}



def optimizer_constants(optimizer: str, settings: Settings) -> list[float]:
    """The settings as the kernels read them, at indices RHO .. M2_START (switches as 0 or 1;
    M2_START is where the second buffer starts: adagrad's initial accumulator, else 0)."""
    s = settings
    start = s.initial_accumulator if optimizer == "adagrad" else 0.0
    return [s.rho, 1 - s.rho, s.beta_1, 1 - s.beta_1, s.beta_2, 1 - s.beta_2, s.epsilon,
            s.momentum, s.weight_decay, 0.5, NADAM_DECAY, s.nesterov, s.centered, s.amsgrad,
            start]  # fmt: skip


def extended(optimizer: str, settings: Settings) -> bool:
    """Whether this optimizer at these settings needs _extended_step."""
    s = settings
    return optimizer not in PLAIN or bool(s.momentum or s.centered or s.amsgrad or s.weight_decay)


@njit(cache=True, error_model="numpy")
def _table(steps, columns, k):
    """step_table's rows for t = 1..steps, each column as the NumPy rule computes it."""
    table = np.ones((steps + 1, columns), k.dtype)
    t, product = k[ZERO], k[ONE]
    for s in range(1, steps + 1):
        t += k[ONE]
        table[s, ROOT] = np.sqrt(k[ONE] - k[BETA_2] ** t)
        table[s, DENOMINATOR] = k[ONE] - k[BETA_1] ** t
        if columns == 2:
            continue
        product = product * k[BETA_1] * (k[ONE] - k[HALF] * k[DECAY_BASE] ** t)
        table[s, MU] = k[BETA_1] * (k[ONE] - k[HALF] * k[DECAY_BASE] ** t)
        table[s, MU_NEXT] = k[BETA_1] * (k[ONE] - k[HALF] * k[DECAY_BASE] ** (t + k[ONE]))
        table[s, PRODUCT] = product
        table[s, PRODUCT_NEXT] = product * table[s, MU_NEXT]
        table[s, B2_CORRECTION] = k[ONE] - k[BETA_2] ** t
    return table


def step_table(optimizer: str, steps: int, k: np.ndarray) -> np.ndarray:
    """Per-step scalars for every update of a run (one unused row for optimizers without)."""
    columns = TABLE_COLUMNS.get(optimizer, 2)
    return _table(steps if optimizer in TABLE_COLUMNS else 0, columns, k)


def _plain_step(theta, grad, m1, m2, m3, opt, lr, row, k):
    """sgd (opt 0), rmsprop (1) or adam (2), without momentum, centring, amsgrad or decay."""
    alpha = lr * row[ROOT] / row[DENOMINATOR]
    for p in range(theta.shape[0]):
        g = grad[p]
        if opt == SGD:
            theta[p] = theta[p] + -(g * lr)
        elif opt == RMSPROP:
            m2[p] = k[RHO] * m2[p] + k[ONE_M_RHO] * g * g
            theta[p] = theta[p] + -(lr * g / np.sqrt(m2[p] + k[EPS]))
        else:
            m1[p] = m1[p] + (g - m1[p]) * k[ONE_M_B1]
            m2[p] = m2[p] + (g * g - m2[p]) * k[ONE_M_B2]
            theta[p] = theta[p] + -(m1[p] * alpha / (np.sqrt(m2[p]) + k[EPS]))


def _extended_step(theta, grad, m1, m2, m3, opt, lr, row, k):
    """Optimizer opt (OPTIMIZER_CODES) with the switches in k."""
    alpha = lr * row[ROOT] / row[DENOMINATOR]
    for p in range(theta.shape[0]):
        g = grad[p]
        if k[WD] != k[ZERO]:  # Keras 3: p - p * wd * lr before the update
            theta[p] = theta[p] - theta[p] * k[WD] * lr
        if opt == SGD:
            if k[MOMENTUM] != k[ZERO]:
                m1[p] = m1[p] * k[MOMENTUM] - g * lr
                nesterov = k[NESTEROV] != k[ZERO]
                theta[p] = theta[p] + (m1[p] * k[MOMENTUM] - g * lr if nesterov else m1[p])
            else:
                theta[p] = theta[p] + -(g * lr)
        elif opt == RMSPROP:
            m2[p] = k[RHO] * m2[p] + k[ONE_M_RHO] * g * g
            if k[CENTERED] != k[ZERO]:
                m3[p] = k[RHO] * m3[p] + k[ONE_M_RHO] * g
                step = lr * g / np.sqrt(m2[p] - m3[p] * m3[p] + k[EPS])
            else:
                step = lr * g / np.sqrt(m2[p] + k[EPS])
            if k[MOMENTUM] != k[ZERO]:
                m1[p] = k[MOMENTUM] * m1[p] + step
                step = m1[p]
            theta[p] = theta[p] + -step
        elif opt in (ADAM, ADAMW):
            m1[p] = m1[p] + (g - m1[p]) * k[ONE_M_B1]
            m2[p] = m2[p] + (g * g - m2[p]) * k[ONE_M_B2]
            v = m2[p]
            if k[AMSGRAD] != k[ZERO]:
                m3[p] = m3[p] if m3[p] > m2[p] else m2[p]
                v = m3[p]
            theta[p] = theta[p] + -(m1[p] * alpha / (np.sqrt(v) + k[EPS]))
        elif opt == ADAGRAD:  # m2 starts at initial_accumulator
            m2[p] = m2[p] + g * g
            theta[p] = theta[p] + -(lr * g / np.sqrt(m2[p] + k[EPS]))
        elif opt == ADAMAX:
            m1[p] = m1[p] + (g - m1[p]) * k[ONE_M_B1]
            decayed, size = k[BETA_2] * m2[p], abs(g)
            m2[p] = decayed if decayed > size else size
            theta[p] = theta[p] + -(lr * m1[p] / (row[DENOMINATOR] * (m2[p] + k[EPS])))
        elif opt == NADAM:
            m1[p] = m1[p] + (g - m1[p]) * k[ONE_M_B1]
            m2[p] = m2[p] + (g * g - m2[p]) * k[ONE_M_B2]
            m_hat = (row[MU_NEXT] * m1[p] / (k[ONE] - row[PRODUCT_NEXT])
                     + (k[ONE] - row[MU]) * g / (k[ONE] - row[PRODUCT]))  # fmt: skip
            root = np.sqrt(m2[p] / row[B2_CORRECTION])
            theta[p] = theta[p] + -(m_hat * lr / (root + k[EPS]))
        else:  # LION
            c = m1[p] * k[BETA_1] + g * k[ONE_M_B1]
            sign = k[ONE] if c > k[ZERO] else (-k[ONE] if c < k[ZERO] else c * k[ZERO])  # NaN stays
            theta[p] = theta[p] + -(lr * sign)
            m1[p] = m1[p] * k[BETA_2] + g * k[ONE_M_B2]


def step_function(extended: bool) -> Any:
    """The njit step a kernel variant inlines."""
    return _EXTENDED if extended else _PLAIN


_PLAIN = njit(cache=True, error_model="numpy", inline="always")(_plain_step)
_EXTENDED = njit(cache=True, error_model="numpy", inline="always")(_extended_step)
