"""The one error type the CLI turns into a one-line message and exit status 2."""


class UsageError(ValueError):
    """Bad input from the user: a value outside what is allowed."""
