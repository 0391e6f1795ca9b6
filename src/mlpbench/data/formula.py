"""Data sets defined by a formula: a rule such as "x1**2 > x2", read by a small evaluator.

The rule is parsed by Python's `ast` (which only reads it) and every node is
checked against a short whitelist before anything is computed: numbers,
inputs x1 .. xk, + - * / **, abs, sin, cos, exp, comparisons (chained too),
and, or, not. Anything else (names, attributes, calls of other functions,
strings, subscripts, lambdas, a function's name not called, a number beyond
float64) is refused with one line, and nothing the user wrote is ever passed
to `eval`. Numbers become float64 arrays before any arithmetic, so `9**9**9`
overflows to inf instead of building a huge integer. A comparison inside
arithmetic or a function counts 1 when true and 0 when false, as in Python:
`(x1 > 0) + (x2 > 0) > 1` says both are positive.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

import numpy as np

from mlpbench.errors import UsageError

MAX_RULE_CHARS = 500
MAX_INPUTS = 100
INPUT = re.compile(r"^x([1-9][0-9]*)$")
FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs, "sin": np.sin, "cos": np.cos, "exp": np.exp,
}  # fmt: skip
BINARY: dict[type, Callable] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}  # fmt: skip
COMPARE: dict[type, Callable] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}  # fmt: skip
MAX_FLOAT = int(np.finfo(np.float64).max)
ALLOWED = "numbers, x1..xk, + - * / **, abs, sin, cos, exp, < <= > >= == !=, and, or, not"


def _inputs(tree: ast.AST, refuse: Callable[[str], UsageError]) -> int:
    """Check every node against the whitelist; return the highest input index used. refuse
    makes the error for what is wrong."""
    highest = 0
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found = INPUT.match(node.id)
            if node.id in FUNCTIONS:
                if id(node) not in called:
                    raise refuse(f"{node.id} is a function: write {node.id}(...)")
                continue
            if not found:
                raise refuse(f"unknown name {node.id!r}")
            highest = max(highest, int(found[1]))
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS or node.keywords or len(node.args) != 1:
                raise refuse("only abs(...), sin(...), cos(...), exp(...) may be called")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise refuse(f"{node.value!r} is not a number")
            if isinstance(node.value, int) and abs(node.value) > MAX_FLOAT:
                raise refuse(f"the integer of {len(str(node.value))} digits is beyond "
                              "float64 (about 1.8e308)")  # fmt: skip
        elif isinstance(node, ast.BinOp | ast.UnaryOp | ast.BoolOp | ast.Compare):
            ops = node.ops if isinstance(node, ast.Compare) else [node.op]
            allowed = (*BINARY, *COMPARE, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or)
            if not all(isinstance(op, allowed) for op in ops):
                raise refuse(f"operator {type(ops[0]).__name__} is not allowed")
        elif not isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop
                            | ast.boolop | ast.cmpop):  # fmt: skip
            raise refuse(f"{type(node).__name__} is not allowed")
    if highest > MAX_INPUTS:
        raise refuse(f"at most x{MAX_INPUTS}")
    return highest


def _evaluate(node: ast.AST, x: np.ndarray) -> np.ndarray:
    """The value of a checked node on points x (count, k): a float or a boolean array."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, x)
    if isinstance(node, ast.Constant):
        return np.full(len(x), float(node.value))
    if isinstance(node, ast.Name):
        return x[:, int(node.id[1:]) - 1]
    if isinstance(node, ast.Call):
        function = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
        return function(_float(_evaluate(node.args[0], x)))
    if isinstance(node, ast.BinOp):
        left, right = _float(_evaluate(node.left, x)), _float(_evaluate(node.right, x))
        return BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return np.logical_not(_evaluate(node.operand, x))
        value = _float(_evaluate(node.operand, x))
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        values = [_evaluate(v, x) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = combine(out, v)
        return out
    assert isinstance(node, ast.Compare)
    left, out = _evaluate(node.left, x), np.ones(len(x), dtype=bool)
    for op, right_node in zip(node.ops, node.comparators):
        right = _evaluate(right_node, x)
        out &= COMPARE[type(op)](left, right)
        left = right
    return out


def _float(value: np.ndarray) -> np.ndarray:
    """A value as float64: a comparison's true and false become 1 and 0."""
    return np.asarray(value, dtype=np.float64)


class _Expression:
    """A text the evaluator reads: parsed, every node checked, and the highest input x_k it
    reads; each error one line naming the text as a KIND."""

    KIND, FIELD, ALLOWED = "rule", "rule", ALLOWED

    def __init__(self, text: str):
        if len(text) > MAX_RULE_CHARS:
            raise UsageError(f"{self.KIND} is {len(text)} characters long; at most "
                             f"{MAX_RULE_CHARS}", self.FIELD)  # fmt: skip
        try:
            self.tree = ast.parse(self._source(text), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            raise self._refuse(text, f"cannot be read ({type(e).__name__})") from None
        self.text, self.inputs = text, _inputs(self.tree, lambda what: self._refuse(text, what))
        if self.inputs == 0:
            raise self._refuse(text, "it uses no input x1..xk")

    def _source(self, text: str) -> str:
        return text.strip()

    def _refuse(self, text: str, what: str) -> UsageError:
        return UsageError(f"{self.KIND} {text!r}: {what}; allowed: {self.ALLOWED}", self.FIELD)

    def _value(self, x: np.ndarray) -> np.ndarray:
        try:
            with np.errstate(all="ignore"):
                return np.asarray(_evaluate(self.tree, x))
        except RecursionError:
            raise self._refuse(self.text, "it is nested too deeply") from None


class Rule(_Expression):
    """A checked rule: how many inputs it reads, and its labels for given points."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise UsageError("data set 'formula' needs a rule, e.g. --rule 'x1**2 > x2'", "rule")
        super().__init__(text)
        self.inputs = max(2, self.inputs)
        probe = self.labels(np.zeros((1, self.inputs)))
        if probe.dtype != bool:
            raise self._refuse(text, "it must be a comparison such as x1**2 > x2, giving true "
                               "or false")  # fmt: skip

    def labels(self, x: np.ndarray) -> np.ndarray:
        """The rule at each point of x (count, inputs): True or False."""
        return self._value(x)


class Feature(_Expression):
    """A checked input feature such as "x1*x2" or "sin(x1)": the same evaluator as a rule's,
    giving numbers (a comparison gives 1 and 0); ^ is a power, as Playground writes X1²."""

    KIND, FIELD, ALLOWED = "feature", "features", f"{ALLOWED}, ^ for **"

    def __init__(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise UsageError(f"a feature must be an expression such as 'x1*x2', got "
                             f"{text!r}", "features")  # fmt: skip
        super().__init__(text)

    def _source(self, text: str) -> str:
        return text.strip().replace("^", "**")

    def values(self, x: np.ndarray) -> np.ndarray:
        """The feature at each point of x (count, inputs), as float64."""
        return _float(self._value(x))
