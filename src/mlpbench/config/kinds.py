"""How each kind of configuration field is typed, read from the command line, checked and
documented: KINDS, which fields.py gives every field one of, and the limits they check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlpbench.errors import finite, shown

if TYPE_CHECKING:
    from mlpbench.config.fields import Field

FORMULA_RANGE = (-2.0, 2.0)
MAX_EPOCHS = 10_000_000  # per run; more would take hours even on the smallest problem
MAX_UNITS = 100_000  # per hidden layer
MAX_STEPS = 10**12  # a schedule's update counts: more than any run makes
MAX_PIECES = 100  # a piecewise schedule's boundaries
MAX_FEATURES = 100  # a network's input features
MAX_POINTS = 10**9  # m, n, a batch: 8 GB a float64 input column; memory is estimated after


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class Kind:
    """How a field's values are typed, read from the command line, checked and documented."""

    annotation: str  # the Config attribute's type
    parse: Callable[[str], Any]  # a command-line argument's text to a value
    check: Callable[[Field, Any], str | None]  # None when the value is allowed, else the error
    shown: str  # its type in the docs' reference


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"hidden sizes must be integers separated by commas, got {text!r}"
                         ) from None  # fmt: skip


def _list_of(cast: Callable[[str], Any], what: str) -> Callable[[str], tuple]:
    """A comma-separated command-line list, each part read by cast."""

    def parse(text: str) -> tuple:
        try:
            return tuple(cast(part) for part in text.split(","))
        except ValueError:
            raise ValueError(f"expected {what} separated by commas, got {text!r}") from None

    return parse


def _interval(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"range must be two numbers separated by a comma, e.g. -2,2, got "
                         f"{text!r}") from None  # fmt: skip
    return low, high


def choice_error(what: str, v: Any, allowed: tuple[str, ...]) -> str | None:
    """None when v is one of the allowed names, else the one-line error naming them."""
    if isinstance(v, str) and v in allowed:
        return None
    return f"unknown {what} {shown(v)}; allowed: {', '.join(allowed)}"


def count_error(what: str, v: Any) -> str | None:
    """None when v is an integer >= 1, else the one-line error saying so."""
    return None if _is_count(v) else f"{what} must be an integer >= 1, got {shown(v)}"


def _check_text(f: Field, v: Any) -> str | None:
    return None if isinstance(v, str) else f"{f.name} must be a string, got {shown(v)}"


def _check_choice(f: Field, v: Any) -> str | None:
    if v is None and f.default is None:
        return None
    return choice_error(f.what, v, f.allowed())


def _check_count(f: Field, v: Any) -> str | None:
    if v is None and f.default is None:
        return None
    if not _is_count(v):
        return count_error(f.what, v)
    if f.high is not None and v > f.high:
        return f"{f.what} must be at most {f.high}{f.high_note}, got {shown(v)}"
    return None


def _check_rate(f: Field, v: Any) -> str | None:
    if _number(v) and finite(v) and v > 0:
        return None
    return f"{f.what} must be a finite number > 0, got {shown(v)}"


def _check_fraction(f: Field, v: Any) -> str | None:
    if _number(v) and finite(v) and 0 <= v <= 1:
        return None
    return f"{f.what} must be a number in [0, 1], got {shown(v)}"


def _check_holdout(f: Field, v: Any) -> str | None:
    if _number(v) and 0 <= v < 1:
        return None
    return f"{f.what} must be a fraction in [0, 1), got {shown(v)}"


def _check_setting(inside: Callable[[float], bool], bounds: str
                   ) -> Callable[[Field, Any], str | None]:  # fmt: skip
    """An optimizer setting: None (the optimizer's own default) or a finite number in range."""

    def check(f: Field, v: Any) -> str | None:
        if v is None or (_number(v) and finite(v) and inside(v)):
            return None
        return f"{f.what} must be a number {bounds}, got {shown(v)}"

    return check


def _is_step(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_STEPS


def _check_steps(f: Field, v: Any) -> str | None:
    if v is None or _is_step(v):
        return None
    return f"{f.what} must be an integer in [0, {MAX_STEPS}], got {shown(v)}"


def _check_boundaries(f: Field, v: Any) -> str | None:
    ok = isinstance(v, (list, tuple)) and 0 < len(v) <= MAX_PIECES and all(map(_is_step, v))
    if v is None or ok:
        return None
    return (f"{f.what} must be a list of 1 to {MAX_PIECES} update counts in [0, {MAX_STEPS}], "
            f"got {shown(v)}")  # fmt: skip


def _check_multiples(f: Field, v: Any) -> str | None:
    ok = isinstance(v, (list, tuple)) and 1 < len(v) <= MAX_PIECES + 1 and all(
        _number(x) and finite(x) and x > 0 for x in v)
    if v is None or ok:
        return None
    return (f"{f.what} must be a list of 2 to {MAX_PIECES + 1} finite numbers > 0, got "
            f"{shown(v)}")  # fmt: skip


def _check_coefficient(f: Field, v: Any) -> str | None:
    if _number(v) and finite(v) and v >= 0:
        return None
    return f"{f.what} must be a finite number >= 0, got {shown(v)}"


def _check_switch(f: Field, v: Any) -> str | None:
    if v is None or isinstance(v, bool):
        return None
    return f"{f.what} must be true or false, got {shown(v)}"


def _switch(text: str) -> bool:
    return {"true": True, "false": False}[text.lower()]


def _check_features(f: Field, v: Any) -> str | None:
    ok = isinstance(v, (list, tuple)) and len(v) <= MAX_FEATURES and all(
        isinstance(x, str) and x.strip() for x in v)  # each expression is checked by Config
    if ok:
        return None
    return (f"{f.name} must be a list of at most {MAX_FEATURES} expressions such as "
            f"['x1', 'x1*x2', 'sin(x1)'], got {shown(v)}")  # fmt: skip


def _check_sizes(f: Field, v: Any) -> str | None:
    if not isinstance(v, (list, tuple)):
        return f"{f.name} must be a list of layer sizes such as [3], got {shown(v)}"
    if not v:
        return f"{f.name} must list at least one layer size, got []"
    bad = next((units for units in v if not _is_count(units) or units > MAX_UNITS), None)
    if bad is None:
        return None
    return f"hidden layer size must be an integer in [1, {MAX_UNITS}], got {shown(bad)}"


def _check_interval(f: Field, v: Any) -> str | None:
    ok = (isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(x) and finite(x)
          for x in v) and v[0] < v[1] and finite(v[1] - v[0]))  # fmt: skip
    return None if ok else (f"{f.name} must be two finite numbers low < high, a finite width "
                            f"apart, got {shown(v)}")  # fmt: skip


KINDS: dict[str, Kind] = {
    "text": Kind("str", str, _check_text, "string"),
    "choice": Kind("str", str, _check_choice, "name"),
    "scale": Kind("str | None", str, _check_choice, "name"),
    "count": Kind("int", int, _check_count, "integer >= 1"),
    "optional count": Kind("int | None", int, _check_count, "integer >= 1"),
    "rate": Kind("float", float, _check_rate, "number > 0"),
    "fraction": Kind("float", float, _check_fraction, "number in [0, 1]"),
    "holdout": Kind("float", float, _check_holdout, "number in [0, 1)"),
    "coefficient": Kind("float | None", float, _check_setting(lambda v: 0 <= v < 1, "in [0, 1)"),
                        "number in [0, 1)"),
    "positive": Kind("float | None", float, _check_setting(lambda v: v > 0, "> 0"),
                     "number > 0"),
    "nonnegative": Kind("float | None", float, _check_setting(lambda v: v >= 0, ">= 0"),
                        "number >= 0"),
    "penalty": Kind("float", float, _check_coefficient, "number >= 0"),
    "switch": Kind("bool | None", _switch, _check_switch, "true or false"),
    "steps": Kind("int | None", int, _check_steps, "integer >= 0"),
    "boundaries": Kind("tuple[int, ...] | None", _list_of(int, "integers"), _check_boundaries,
                       "list of integers >= 0"),
    "multiples": Kind("tuple[float, ...] | None", _list_of(float, "numbers"), _check_multiples,
                      "list of numbers > 0"),
    "sizes": Kind("tuple[int, ...]", _sizes, _check_sizes, "list of integers >= 1"),
    "features": Kind("tuple[str, ...]", _list_of(str.strip, "expressions"), _check_features,
                     "list of expressions"),
    "interval": Kind("tuple[float, float]", _interval, _check_interval, "[low, high]"),
}
