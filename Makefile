# Quick start: `make run` (set up, then run the seed study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean clean-cache

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[fast,tf,jax,dask,pandas,parquet,mlflow,datasets,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlpbench run $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

bench: $(STAMP)
	$(BIN)/python benchmarks/engines.py $(ARGS)

# numba keys its disk cache on each kernel's own file, so an edit to a module the
# kernels inline (engines/numba_math.py) needs this to take effect
clean-cache:
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) results .pytest_cache
