"""mlpbench: controlled, repeatable comparisons of training choices for small MLPs.

The Python API (see the README): `train`, `load_study` and their results. Importing
the package is cheap: the API loads on first use, and no framework is imported
until an engine that needs it trains.
"""

from mlpbench.errors import UsageError

__version__ = "0.1.0"
API = ("train", "load_study", "Result", "Study", "StudyResult", "TableResult")
__all__ = ["UsageError", "__version__", *API]


def __getattr__(name: str) -> object:
    if name in API:
        from mlpbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlpbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
