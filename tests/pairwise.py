"""An all-pairs (pairwise) test design: every pair of levels of any two factors in some case.

Greedy and deterministic, in the manner of AETG (Cohen et al., 1997): each new
case starts from the uncovered pair of the two earliest factors, then fills
each other factor with the level that covers the most pairs still uncovered
(ties to the first level). For the conformance suite's factors it is within a
few cases of the lower bound, the product of the two largest factors' sizes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any


def pairs_of(case: Sequence[int]) -> set[tuple[int, int, int, int]]:
    """(factor i, level of i, factor j, level of j) for every i < j of one case."""
    return {(i, case[i], j, case[j]) for i, j in itertools.combinations(range(len(case)), 2)}


def _gain(case: list[int | None], f: int, level: int, uncovered: set) -> int:
    """How many uncovered pairs setting factor f to this level would cover."""
    chosen = {g: v for g, v in enumerate(case) if v is not None}
    chosen[f] = level
    return sum((min(f, g), chosen[min(f, g)], max(f, g), chosen[max(f, g)]) in uncovered
               for g in chosen if g != f)  # fmt: skip


def all_pairs(factors: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cases (one level per factor) covering every pair of levels of every two factors."""
    names, sizes = list(factors), [len(levels) for levels in factors.values()]
    uncovered = {(i, a, j, b) for i, j in itertools.combinations(range(len(sizes)), 2)
                 for a in range(sizes[i]) for b in range(sizes[j])}  # fmt: skip
    cases: list[list[int]] = []
    while uncovered:
        i, a, j, b = min(uncovered)
        case: list[int | None] = [None] * len(sizes)
        case[i], case[j] = a, b
        for f in range(len(sizes)):
            if case[f] is None:
                case[f] = max(range(sizes[f]),
                              key=lambda v, f=f: (_gain(case, f, v, uncovered), -v))  # fmt: skip
        full = [int(v) for v in case]  # type: ignore[arg-type]
        uncovered -= pairs_of(full)
        cases.append(full)
    return [{n: factors[n][v] for n, v in zip(names, case)} for case in cases]
