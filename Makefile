# citebot: `make demo` runs the main job, `make test` runs the tests; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray

.PHONY: setup demo test test-fast lint bench reader clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned to the CPU wheel first so nothing pulls a CUDA build.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Ray is an optional extra (citebot[ray], for `citebot index --ray`): the tests build on a
# local Ray, so `make test` installs it; `make setup` and `make demo` stay without it.
$(RAY_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,ray]"
	touch $(RAY_STAMP)

demo: setup
	$(BIN)/citebot demo

test: setup $(RAY_STAMP)
	$(BIN)/ruff check bot retrieval localdiscord training tests benchmarks
	$(BIN)/ruff format --check bot retrieval localdiscord training tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not model"

bench: setup
	$(BIN)/python -m benchmarks.run

# Rebuilds the shipped reader from ../shared/train (docs/reader.md): train at 96 tokens (about
# an hour on two cores; a stopped run resumes from its checkpoint.pt), then on twice the
# questions at the 64 tokens serving reads (about 20 minutes), export to int8 ONNX, then fit
# the combiner, its threshold and when to stop reading, on held-out training paragraphs.
TRAIN_DATA ?= ../shared/train
reader: setup
	$(BIN)/pip install --quiet -e ".[train]"
	$(BIN)/python -m training.reader_train --data $(TRAIN_DATA) --out build/reader \
		--max-tokens 96
	$(BIN)/python -m training.reader_train --data $(TRAIN_DATA) --out build/reader64 \
		--init build/reader/best --max-tokens 64 --caps-scale 2 --epochs 0.3 --lr 2e-5 \
		--eval-every 100
	$(BIN)/python -m training.reader_export --model build/reader64/best
	$(BIN)/python -m training.reader_calibrate --data $(TRAIN_DATA)

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache
