# Two entry points, each creating .venv if it is missing:
#   make verify   install boundlab[pep] and run every claim in quick mode -> out/,
#                 on a local Dask cluster of one worker per core
#   make test     install boundlab[dev] and run the whole test suite
# Also: make full (full mode -> out/full/), make docs (the site -> site/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WORKERS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 1)
# Test processes (pytest-xdist); the tests reading the one quick verify run
# in one of them (tests/conftest.py).
TEST_WORKERS ?= 2

.PHONY: verify test full docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[pep]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-dev

verify: $(VENV)/.installed
	$(BIN)/boundlab verify --workers $(WORKERS) --out out/

full: $(VENV)/.installed
	$(BIN)/boundlab verify --full --workers $(WORKERS) --out out/full/

docs: $(VENV)/.installed-docs
	$(BIN)/python docs/build_pages.py
	$(BIN)/mkdocs build --strict

# No persistent XLA compilation cache here: tried, it halved a local re-run
# of the CLI and Dask tests (160 s -> 88 s) but a fresh clone gains little
# (cold: 160 s vs 155 s without), and the one fresh run with it was the
# slowest yet (1755 s).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --durations=25

clean:
	rm -rf out site docs/generated .pytest_cache
