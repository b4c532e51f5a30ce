# Two entry points for a fresh clone: `make demo` and `make test`.
# Each creates (or refreshes) its own virtual environment in .venv with nothing but python3.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_DEMO := $(VENV)/.crmkit-demo
STAMP_DEV := $(VENV)/.crmkit-dev

# mkdocs-material 9 prints an end-of-life banner about MkDocs 2 on every build unless this is
# set; exported so every target (and anything they run) builds the docs quietly.
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint types contracts docs docs-serve pytest bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crmkit needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[sql]'
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	@touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(BIN)/python examples/quickstart.py  # a fresh SQLite file; --db PATH to keep it

test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports
	$(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site
	$(BIN)/python -m pytest

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP_DEV)
	$(BIN)/mypy --strict src

contracts: $(STAMP_DEV)
	$(BIN)/lint-imports

docs: $(STAMP_DEV)
	$(BIN)/mkdocs build --strict --site-dir $(VENV)/site

docs-serve: $(STAMP_DEV)  # live reload at http://127.0.0.1:8000
	$(BIN)/mkdocs serve

pytest: $(STAMP_DEV)
	$(BIN)/python -m pytest

bench: $(STAMP_DEV)
	for script in bench/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
