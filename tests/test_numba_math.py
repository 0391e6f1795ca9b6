"""numba_math: the vectorisable exp, expm1, log1p and dot product the numba engine uses.

exp_neg is checked against the C library's exp (math.exp), which is correctly
rounded in all but rare cases: exp_neg must be within 1 ulp everywhere and
equal in at least 85% of cases (it is in about 90%; a polynomial one term
short or a reduction without ln2's low part is off by more). log1p_unit must
be within 2 ulp of NumPy's, expm1_neg within 1 ulp of math.expm1, tanh within 3 ulp of
math.tanh (2 in float32).
lane_dot and weighted_rows must add in exactly the order their docstrings
give.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

numba = pytest.importorskip("numba")

from mlpbench.engines.numba_math import (  # noqa: E402
    LANES,
    exp_neg,
    expm1_neg,
    lane_dot,
    log1p_unit,
    math_constants,
    tanh,
    weighted_rows,
)


@numba.njit
def _map(function, x, c):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = function(x[i], c)
    return out


def _exp_all(x, c):
    return _map(exp_neg, x, c)


def _log1p_all(x, c):
    return _map(log1p_unit, x, c)


def _tanh_all(x, c):
    return _map(tanh, x, c)


def _expm1_all(x, c):
    return _map(expm1_neg, x, c)


@numba.njit
def _dot(p, i, q, j, n):
    return lane_dot(p, i, q, j, n)


@numba.njit
def _weighted(a, v, w, at, stride, count, z, u, n):
    weighted_rows(a, v, w, at, stride, count, z, u, n)


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.abs(want))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exp_neg_within_one_ulp_of_the_c_library(dtype):
    x = -np.random.default_rng(0).exponential(4.0, 200_000).astype(dtype)
    x = x[x > (-700 if dtype == "float64" else -85)]  # normal results
    got = _exp_all(x, math_constants(dtype))
    want = np.array([math.exp(v) for v in x.astype(float)]).astype(dtype)
    assert _ulps(got, want).max() <= 1
    mismatch = np.mean(got != want)
    assert mismatch < 0.15, mismatch


@given(st.floats(min_value=-745.0, max_value=0.0))
@settings(max_examples=300, deadline=None)
def test_exp_neg_is_within_one_ulp_or_flushed_below_the_normal_range(x):
    got = float(_exp_all(np.array([x]), math_constants("float64"))[0])
    want = math.exp(x)
    if want < np.finfo(float).tiny:  # flushed to 0 from x < -708.74, else to the subnormal
        assert got == 0.0 or abs(got - want) <= math.ulp(want)
    else:
        assert abs(got - want) <= math.ulp(want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exp_neg_edges(dtype):
    x = np.array([0.0, -0.0, -1e-30, -np.inf, np.nan, -1e6], dtype=dtype)
    got = _exp_all(x, math_constants(dtype))
    assert got[0] == got[1] == got[2] == 1.0
    assert got[3] == 0.0 and got[5] == 0.0
    assert np.isnan(got[4])
    # the smallest normal result, 2^-1022 (2^-126 in float32), and far enough below it
    tiny = np.finfo(dtype).tiny
    edge = np.log(np.array([tiny, tiny / 4], dtype=dtype))
    assert list(_exp_all(edge, math_constants(dtype))) == [pytest.approx(tiny, rel=1e-6), 0.0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_log1p_unit_within_two_ulp(dtype):
    e = np.random.default_rng(1).uniform(0, 1, 200_000).astype(dtype)
    e = np.concatenate([e, np.geomspace(1e-30, 1, 1000).astype(dtype)])
    got = _log1p_all(e, math_constants(dtype))
    want = np.log1p(e.astype(float)).astype(dtype)
    assert _ulps(got, want).max() <= 2


def test_log1p_unit_edges():
    got = _log1p_all(np.array([0.0, 1e-300, 1.0, np.nan]), math_constants("float64"))
    assert got[0] == 0.0
    assert got[1] == 1e-300
    assert got[2] == math.log(2)
    assert np.isnan(got[3])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [0, LANES, 5 * LANES, 125 * LANES])
def test_lane_dot_adds_in_its_documented_order(dtype, n):
    rows = np.random.default_rng(2).normal(size=(3, 1000)).astype(dtype)
    lanes = [np.zeros((), dtype)] * LANES
    for b in range(n):
        lanes[b % LANES] = lanes[b % LANES] + rows[0, b] * rows[2, b]
    pairs = [lanes[i] + lanes[i + 1] for i in range(0, LANES, 2)]
    want = (pairs[0] + pairs[1]) + (pairs[2] + pairs[3])
    got = _dot(rows, 0, rows, 2, n)
    assert got == want
    np.testing.assert_allclose(got, rows[0, :n] @ rows[2, :n], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [0, 3, LANES, 4 * LANES, 5 * LANES + 3, 13 * LANES + 5, 110])
@pytest.mark.parametrize("count", [1, 2, 9])
def test_weighted_rows_adds_in_its_documented_order(dtype, n, count):
    rng = np.random.default_rng(3)
    rows, w = rng.normal(size=(24, 110)).astype(dtype), rng.normal(size=100).astype(dtype)
    v, at, stride, u = 2, 5, 7, 20
    want = rows[v, :n] * w[at]  # elementwise, so NumPy rounds each column as a scalar would
    for i in range(1, count):
        want = want + rows[v + i, :n] * w[at + i * stride]
    out = rows.copy()
    _weighted(rows, v, w, at, stride, count, out, u, n)
    assert np.array_equal(out[u, :n], want)
    out[u, :n] = rows[u, :n]
    assert np.array_equal(out, rows)  # nothing else is written


@pytest.mark.parametrize(("dtype", "most"), [("float64", 3), ("float32", 2)])
def test_tanh_within_three_ulp_of_the_c_library(dtype, most):
    rng = np.random.default_rng(4)
    tiny_to_flat = np.geomspace(1e-30, 30, 20_000)
    x = np.concatenate([rng.normal(0, 3, 200_000), tiny_to_flat, -tiny_to_flat]).astype(dtype)
    got = _tanh_all(x, math_constants(dtype))
    want = np.array([math.tanh(v) for v in x.astype(float)]).astype(dtype)
    assert _ulps(got, want).max() <= most
    assert np.mean(got == want) > 0.45  # about half are the C library's to the bit


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tanh_edges(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 20.0, -1e6, 1e-30], dtype=dtype)
    got = _tanh_all(x, math_constants(dtype))
    assert list(np.signbit(got[:2])) == [False, True] and got[0] == 0.0
    assert list(got[[2, 3, 5, 6]]) == [1.0, -1.0, 1.0, -1.0]
    assert np.isnan(got[4])
    assert got[7] == x[7]  # tanh x = x to the last bit for tiny x


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_expm1_neg_within_one_ulp_of_the_c_library(dtype):
    rng = np.random.default_rng(5)
    tiny_to_flat = np.geomspace(1e-30, 30, 20_000)
    x = np.concatenate([-rng.exponential(3.0, 200_000), -tiny_to_flat]).astype(dtype)
    got = _expm1_all(x, math_constants(dtype))
    want = np.array([math.expm1(v) for v in x.astype(float)]).astype(dtype)
    assert _ulps(got, want).max() <= 1
    assert np.mean(got == want) > 0.9  # 95% in float64, 97% in float32


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_expm1_neg_edges(dtype):
    x = np.array([0.0, -1e-30, -np.inf, -1e6, np.nan], dtype=dtype)
    got = _expm1_all(x, math_constants(dtype))
    assert got[0] == 0.0 and got[1] == x[1]  # e^x - 1 = x to the last bit for tiny x
    assert got[2] == got[3] == -1.0
    assert np.isnan(got[4])
