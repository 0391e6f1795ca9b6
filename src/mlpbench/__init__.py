"""mlpbench: controlled, repeatable comparisons of training choices for small MLPs."""

__version__ = "0.1.0"
