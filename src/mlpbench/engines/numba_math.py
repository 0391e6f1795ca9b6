"""exp, expm1, log1p, tanh and two sums that compile to SIMD code, for the numba engine.

numba calls the C library's scalar exp, log1p and tanh, one element at a time
(PyPI's llvmlite has no SVML), and a sample needs four of them: over half of
the engine's time went there. exp_neg, log1p_unit and tanh are straight-line
arithmetic with selects instead of branches, so a loop over samples that calls
them is vectorised by LLVM; lane_dot and weighted_rows are written as vector
instructions because LLVM will not vectorise a float sum on its own. exp_neg is
within 1 ulp of the C library's exp and equal to it in about 9 cases in 10
(NumPy's own SIMD exp differs from the C library's in 1 case in 20), expm1_neg
within 1 ulp of its expm1, log1p_unit within 2 ulp of NumPy's, tanh within 3
ulp of the C library's (2 in float32; tests/test_numba_math.py); all work in
float32 with float32 constants. A correctly rounded variant (a double-double
tail) made the full-batch benchmark 16% slower; results agree with NumPy's to
rounding either way.

numba's disk cache is keyed on the file of the function it compiled, so the
kernels that inline these do not notice an edit here: run `make clean-cache`
after one.

Only the domains the engine needs are covered: exp_neg(x) and expm1_neg(x)
for x <= 0 (the sigmoid's e^-|z|, ELU's e^z - 1 below zero) and
log1p_unit(e) for 0 <= e <= 1 (BCE's log(1 + e^-|z|)); tanh takes any x.
NaN propagates; below the normal range results flush to 0 (for every x <
-708.74 in float64, -87.68 in float32), as does -inf.

Method (Cody and Waite's, as in most C libraries):
- exp: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2, ln2 split
  in a high part with trailing zero bits (so n * hi is exact) and a low part;
  e^r by its Taylor series to r^13 (error below 1e-17 on that interval), as
  1 + (r + r^2 q(r)) with q's terms summed by Estrin's scheme (a short
  dependency chain) in fused multiply-adds; 2^n built from its bit pattern.
- log1p: 1 + e = 2^j u with j = 0 for e <= sqrt(2) - 1 and j = 1 above, so
  u is within [1/sqrt(2), sqrt(2)]; log u = 2 atanh(s), s = (u - 1)/(u + 1),
  |s| <= 0.172, by its series to s^21 (error below 1e-18), as 2s + 2s s^2 q
  with q summed likewise;
  s is formed from e without computing 1 + e, so small e keeps its precision.
- tanh: tanh |x| = -m / (2 + m) with m = e^(-2|x|) - 1 from exp's own parts,
  2^n (e^r - 1) + (2^n - 1), so m keeps its precision as x -> 0; the sign
  is copied from x (tanh(-0) = -0). Large |x| give m = -1 and 1 exactly.
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# indices into the table returned by math_constants()
LOG2E, LN2, LN2_HI, LN2_LO, ROUNDER, EXP_MIN, SQRT2_M1, ONE, TWO, THREE = range(10)
EXP_TERMS = 14  # Taylor coefficients 1/0!, 1/1!, ..., 1/13! of e^r
LOG_TERMS = 11  # coefficients 1/1, 1/3, ..., 1/21 of atanh(s)/s in powers of s^2
EXP_COEF = 10
LOG_COEF = EXP_COEF + EXP_TERMS
SIZE = LOG_COEF + LOG_TERMS


def math_constants(dtype: str) -> np.ndarray:
    """Every constant exp_neg and log1p_unit use, rounded once to the dtype."""
    getcontext().prec = 50
    ln2 = Decimal(2).ln()
    mantissa = np.finfo(dtype).nmant + 1  # 53 or 24 significant bits
    # n needs 11 bits in float64 (|n| <= 1076) and 8 in float32 (|n| <= 150)
    hi_bits = mantissa - (11 if dtype == "float64" else 8)
    hi = Decimal(round(ln2 * 2**hi_bits)) / 2**hi_bits
    exp_min = -746.0 if dtype == "float64" else -104.0  # below: 0 in any case
    values = [1 / ln2, ln2, hi, ln2 - hi, Decimal(3) * 2 ** (mantissa - 2), exp_min]
    values += [Decimal(2).sqrt() - 1, 1, 2, 3]
    factorials = [Decimal(np.prod(range(1, i + 1), dtype=object)) for i in range(EXP_TERMS)]
    values += [1 / f for f in factorials]
    values += [Decimal(1) / (2 * i + 1) for i in range(LOG_TERMS)]
    table = np.array([float(v) for v in values], dtype=dtype)
    assert table.shape == (SIZE,)
    return table


@intrinsic
def _pow2(typingctx, n, like):
    """2.0 ** n in like's float type for an integer-valued float n; 0 below the normal range."""
    if like == types.float64:
        int_type, float_type, bias, shift = ir.IntType(64), ir.DoubleType(), 1023, 52
    elif like == types.float32:
        int_type, float_type, bias, shift = ir.IntType(32), ir.FloatType(), 127, 23
    else:
        return None

    def codegen(context, builder, signature, args):
        exponent = builder.add(builder.fptosi(args[0], int_type), ir.Constant(int_type, bias))
        bits = builder.shl(exponent, ir.Constant(int_type, shift))
        normal = builder.icmp_signed(">", exponent, ir.Constant(int_type, 0))
        return builder.bitcast(builder.select(normal, bits, ir.Constant(int_type, 0)), float_type)

    return like(n, like), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (IEEE fused multiply-add), whatever the compiler's flags."""
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


LANES = 8


def _row_start(context, builder, array_type, array, row):
    """A pointer to array[row, 0] of a 2-D C array, for the intrinsics below."""
    zero = ir.Constant(cgutils.intp_t, 0)
    view = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, view, [row, zero])


@intrinsic
def lane_dot(typingctx, p, i, q, j, n):
    """sum(p[i, :n] * q[j, :n]) for n a multiple of LANES, as LANES interleaved sums.

    Lane l adds the products at columns l, l + LANES, ... in order, with a
    multiply then an add (no fusing); the lanes are then added pairwise,
    ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Written as LLVM vector
    instructions because LLVM will not vectorise a float sum it may not
    reorder; the order above is fixed, so results do not depend on the CPU's
    vector width.
    """
    if not (isinstance(p, types.Array) and p.ndim == 2 and p.layout == "C" and p == q):
        return None

    def codegen(context, builder, signature, args):
        p_arr, p_row, q_arr, q_row, count = args
        vector = ir.VectorType(context.get_value_type(p.dtype), LANES)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vector, None))
        p_ptr = _row_start(context, builder, p, p_arr, p_row)
        q_ptr = _row_start(context, builder, p, q_arr, q_row)
        chunks = builder.sdiv(count, ir.Constant(count.type, LANES))
        with cgutils.for_range(builder, chunks) as loop:
            offset = builder.mul(loop.index, ir.Constant(loop.index.type, LANES))

            def load(ptr):
                address = builder.bitcast(builder.gep(ptr, [offset]), vector.as_pointer())
                return builder.load(address, align=p.dtype.bitwidth // 8)

            product = builder.fmul(load(p_ptr), load(q_ptr))
            builder.store(builder.fadd(builder.load(acc), product), acc)
        total, index = builder.load(acc), ir.IntType(32)
        lanes = [builder.extract_element(total, ir.Constant(index, lane)) for lane in range(LANES)]
        while len(lanes) > 1:
            lanes = [builder.fadd(a, b) for a, b in zip(lanes[::2], lanes[1::2])]
        return lanes[0]

    return p.dtype(p, i, q, j, n), codegen


BLOCK = 4 * LANES  # samples weighted_rows keeps in registers at once


@intrinsic
def weighted_rows(typingctx, a, v, w, at, stride, count, z, u, n):
    """z[u, :n] = sum over i < count of a[v + i, :n] * w[at + i * stride].

    Each column's sum is the first product, then each next product added in
    order of i (a multiply, then an add; no fusing): the arithmetic of a
    scalar loop, held in vector registers BLOCK columns at a time, then
    LANES, then one, so a row of z is written once instead of loaded and
    stored count times. For a layer, z[u] is unit j's logits over the batch:
    its inputs' rows weighted by column j of the layer's weights.
    """
    array = isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" and a == z
    if not (array and isinstance(w, types.Array) and w.ndim == 1 and w.dtype == a.dtype):
        return None
    if not all(isinstance(t, types.Integer) for t in (v, at, stride, count, u, n)):
        return None

    def codegen(context, builder, signature, args):
        args = [arg if isinstance(t, types.Array) else context.cast(builder, arg, t, types.intp)
                for arg, t in zip(args, signature.args)]  # fmt: skip
        a_arr, v, w_arr, at, stride, count, z_arr, u, n = args
        scalar, zero = context.get_value_type(a.dtype), ir.Constant(cgutils.intp_t, 0)
        one = ir.Constant(cgutils.intp_t, 1)
        weights = context.make_array(w)(context, builder, w_arr)
        first = _row_start(context, builder, a, a_arr, v)
        out = _row_start(context, builder, z, z_arr, u)
        columns = builder.extract_value(context.make_array(a)(context, builder, a_arr).shape, 1)
        align = a.dtype.bitwidth // 8

        def columns_of(start, width):
            """Columns from start in groups of width, as many as fit in n; returns where
            the groups end."""
            lanes = scalar if width == 1 else ir.VectorType(scalar, width)
            size = ir.Constant(cgutils.intp_t, width)
            groups = builder.sdiv(builder.sub(n, start), size)
            acc = cgutils.alloca_once(builder, lanes)

            def weight(i):
                index = builder.add(at, builder.mul(i, stride))
                at_weight = cgutils.get_item_pointer(context, builder, w, weights, [index])
                value = builder.load(at_weight)
                if width == 1:
                    return value
                vector = builder.insert_element(ir.Constant(lanes, None), value, zero)
                everywhere = ir.Constant(ir.VectorType(ir.IntType(32), width), [0] * width)
                return builder.shuffle_vector(vector, vector, everywhere)

            with cgutils.for_range(builder, groups) as group:
                offset = builder.add(start, builder.mul(group.index, size))

                def row(i):
                    at_row = builder.gep(first, [builder.add(builder.mul(i, columns), offset)])
                    return builder.load(builder.bitcast(at_row, lanes.as_pointer()), align=align)

                builder.store(builder.fmul(row(zero), weight(zero)), acc)
                with cgutils.for_range_slice(builder, one, count, one) as (i, _):
                    builder.store(builder.fadd(builder.load(acc), builder.fmul(row(i), weight(i))),
                                  acc)  # fmt: skip
                target = builder.bitcast(builder.gep(out, [offset]), lanes.as_pointer())
                builder.store(builder.load(acc), target, align=align)
            return builder.add(start, builder.mul(groups, size))

        columns_of(columns_of(columns_of(zero, BLOCK), LANES), 1)
        return context.get_dummy_value()

    return types.none(a, v, w, at, stride, count, z, u, n), codegen


@njit(cache=True, error_model="numpy", inline="always")
def _exp_parts(x, c):
    """e^r - 1 and 2^n, where x = n ln2 + r and e^x = 2^n (1 + (e^r - 1)), for x <= 0."""
    x = c[EXP_MIN] if x < c[EXP_MIN] else x  # keeps NaN, and n within int range
    n = (x * c[LOG2E] + c[ROUNDER]) - c[ROUNDER]  # round to nearest, in floats
    r = (x - n * c[LN2_HI]) - n * c[LN2_LO]
    e = EXP_COEF  # c[e + i] = 1 / i!
    r2 = r * r
    r4 = r2 * r2
    q0 = fma(fma(c[e + 5], r, c[e + 4]), r2, fma(c[e + 3], r, c[e + 2]))
    q1 = fma(fma(c[e + 9], r, c[e + 8]), r2, fma(c[e + 7], r, c[e + 6]))
    q2 = fma(fma(c[e + 13], r, c[e + 12]), r2, fma(c[e + 11], r, c[e + 10]))
    return fma(r2, fma(fma(q2, r4, q1), r4, q0), r), _pow2(n, x)


@njit(cache=True, error_model="numpy", inline="always")
def exp_neg(x, c):
    """e^x for x <= 0, c = math_constants(dtype)."""
    s, scale = _exp_parts(x, c)
    return (c[ONE] + s) * scale


@njit(cache=True, error_model="numpy", inline="always")
def expm1_neg(x, c):
    """e^x - 1 for x <= 0 as 2^n (e^r - 1) + (2^n - 1), so small |x| keep their precision;
    c = math_constants(dtype)."""
    s, scale = _exp_parts(x, c)
    return scale * s + (scale - c[ONE])


@njit(cache=True, error_model="numpy", inline="always")
def tanh(x, c):
    """tanh(x) = -m / (2 + m), m = e^(-2|x|) - 1, signed as x; c = math_constants(dtype).

    m is 2^n (e^r - 1) + (2^n - 1): a power of two times exp's polynomial, so
    small |x| keep their precision (tanh x -> x), then one rounded add.
    """
    s, scale = _exp_parts(-c[TWO] * abs(x), c)
    m = scale * s + (scale - c[ONE])
    return np.copysign(abs(m) / (c[TWO] + m), x)


@njit(cache=True, error_model="numpy", inline="always")
def log1p_unit(e, c):
    """log(1 + e) for 0 <= e <= 1, c = math_constants(dtype)."""
    low = e <= c[SQRT2_M1]
    # u = 1 + e (j = 0) or (1 + e) / 2 (j = 1); s = (u - 1) / (u + 1)
    s = e / (c[TWO] + e) if low else (e - c[ONE]) / (e + c[THREE])
    # log u = 2s + 2s x q(x), x = s^2, q's terms 1/3..1/21 summed as in exp_neg
    x = s * s
    g = LOG_COEF  # c[g + i] = 1 / (2 i + 1)
    x2 = x * x
    x4 = x2 * x2
    q0 = fma(fma(c[g + 4], x, c[g + 3]), x2, fma(c[g + 2], x, c[g + 1]))
    q1 = fma(fma(c[g + 8], x, c[g + 7]), x2, fma(c[g + 6], x, c[g + 5]))
    q2 = fma(c[g + 10], x, c[g + 9])
    two_s = c[TWO] * s
    log_u = fma(two_s * x, fma(fma(q2, x4, q1), x4, q0), two_s)
    return log_u if low else c[LN2] + log_u
