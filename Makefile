# Two commands: `make run` serves the embedded default, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/sensate migrate
	$(BIN)/sensate demo --if-empty
	$(BIN)/sensate serve

CODE := directory matching importers tests bench

# The dependency graph (pyproject's [tool.importlinter]) is part of the test: a layer that
# imports upward fails `make test` as surely as a failing assertion.
test: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/search_match.py

clean:
	rm -rf $(VENV) var *.egg-info
