# citebot: `make demo` runs the main job, `make test` runs the tests; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned to the CPU wheel first so nothing pulls a CUDA build.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/citebot demo

test: setup
	$(BIN)/ruff check bot retrieval localdiscord tests benchmarks
	$(BIN)/ruff format --check bot retrieval localdiscord tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not model"

bench: setup
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache
