# Obvious targets. `make run` and `make test` set up a fresh machine by themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup run test test-fast lint format bench bench-gpu clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/narou-tui

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check core tui tests bench

format: setup
	$(VENV)/bin/ruff format core tui tests bench

bench: setup
	$(PY) bench/tokenize_speed.py
	$(PY) bench/dataset_pane.py
	$(PY) bench/reattach.py
	$(PY) bench/generate.py
	$(PY) bench/train_throughput.py --tiny
	$(PY) bench/padding.py

# On a CUDA machine: the training-speed GPU check in one go (see the script's header).
bench-gpu: setup
	PYTHON=$(PY) bash bench/gpu_check.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
