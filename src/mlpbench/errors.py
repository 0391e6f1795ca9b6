"""The one error type the CLI turns into a one-line message and exit status 2."""


class UsageError(ValueError):
    """Bad input from the user: a value outside what is allowed.

    field names the configuration field at fault, when there is one, so a study
    file's error can name its key path (tables[0].columns[1].lr).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
