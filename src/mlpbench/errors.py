"""The one error type the CLI turns into a one-line message and exit status 2, and how such a
line shows the value at fault."""

import math
from typing import Any


class UsageError(ValueError):
    """Bad input from the user: a value outside what is allowed.

    field names the configuration field at fault, when there is one, so a study
    file's error can name its key path (tables[0].columns[1].lr).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def finite(value: Any) -> bool:
    """Whether a number is finite as a float64: an integer past 1.8e308 is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


SHOWN_CHARS = 80  # of a value in an error line; a longer one is cut and its length said


def shown(value: Any) -> str:
    """A value as a one-line error shows it: its repr, an integer of more than 20 digits by
    length, any other repr past SHOWN_CHARS cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters"
    return f"{text[: SHOWN_CHARS - 20]}... ({size})"
