# Quick start: `make run` (set up, then run the seed study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DOCS_STAMP := $(VENV)/.docs-stamp
# Material for MkDocs prints a notice about MkDocs 2.0 on every build; the build itself is strict
export NO_MKDOCS_2_WARNING := 1

.PHONY: run test lint bench docs docs-serve figures mutate clean clean-cache

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[fast,tf,jax,dask,pandas,parquet,mlflow,datasets,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mlpbench run $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

# the site in site/: a broken link, a missing anchor or a page left out of the nav fails it
docs: $(DOCS_STAMP)
	$(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	$(BIN)/mkdocs serve

# the docs' and the README's figures, from real runs of the seed study
figures: $(STAMP)
	$(BIN)/python docs/figures.py

# mutation testing of the modules that turn runs into verdicts ([tool.mutmut] in
# pyproject.toml; about 15 minutes here), then the score per module
mutate: $(STAMP)
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python tests/mutation_score.py

bench: $(STAMP)
	$(BIN)/python benchmarks/engines.py $(ARGS)

# numba keys its disk cache on each kernel's own file, so an edit to a module the
# kernels inline (engines/numba_math.py) needs this to take effect
clean-cache:
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) results site mutants .pytest_cache
