# Quick start: `make demo` scans the bundled example; `make test` installs everything and runs all tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench catalog clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/prodready scan examples/shop

test: $(VENV)/.installed-test
	bash scripts/install-system-deps.sh
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/scan_speed.py

catalog: $(VENV)/.installed
	$(BIN)/prodready controls list --format markdown > docs/controls.md

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache examples/*/.prodready/cache
