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

test: $(STAMP)
	$(BIN)/ruff check directory matching importers tests bench
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check directory matching importers tests bench
	$(BIN)/ruff format --check directory matching importers tests bench

bench: $(STAMP)
	$(BIN)/python bench/search_match.py

clean:
	rm -rf $(VENV) var *.egg-info
