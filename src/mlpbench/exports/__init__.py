"""Stored runs in the forms other tools read: tidy tables, Parquet, CSV data sets, MLflow.

tidy.py flattens runs into one row per run (or per run and epoch) and writes
a run's data set as CSV; tracking.py logs stored runs to MLflow.

May import: mlpbench.errors, mlpbench.files, mlpbench.data, mlpbench.config,
mlpbench.engines (the records), mlpbench.experiment (the study's types).
"""
