"""The experiment: studies, the tuning protocol, the loop that trains, and the store.

study.py parses study files into tables and columns (a pure schema: nothing
here trains), with claims.py their tables' claims and checks, and schema.py
says each of their keys' type, default and meaning; tune.py is the tuning
protocol's grid, hold-out and choice; runner.py turns jobs into engine calls,
locally or on Dask; store.py keeps every finished run in SQLite; env.py
describes the machine a run happened on.

May import: mlpbench.errors, mlpbench.files, mlpbench.data, mlpbench.nn,
mlpbench.config, mlpbench.engines.
"""
