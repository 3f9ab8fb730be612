# Checkerboard Lab: the two commands (`make run`, `make test`) do all the set-up.
# Re-running is fast: installs happen again only when a requirements file changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 8501

.PHONY: run outputs test lint bench experiment experiment-resume experiment-gpu clean help

help:
	@echo "make run         create .venv, install, start the dashboard on port $(PORT)"
	@echo "make outputs     store every checkpoint's outputs in .outputs/ (make run does it first)"
	@echo "make test        same set-up plus dev tools, then ruff and every test"
	@echo "make bench       run the benchmark scripts (tables + benchmarks/results/*.json)"
	@echo "make experiment  retrain the shipped checkpoints from scratch (about 65-70 min on 2 CPU cores; checkpoints/README.md)"
	@echo "make experiment-resume  finish an interrupted 'make experiment' (complete variants are skipped)"
	@echo "make experiment-gpu     the same experiment on one CUDA GPU (one variant after another)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: outputs
	$(BIN)/streamlit run dashboard.py --server.port $(PORT)

# The pages show stored outputs instead of running networks (core/outputs.py); only
# missing or stale files are computed (about 4 minutes on 2 busy cores, once).
outputs: $(STAMP)
	$(BIN)/python -m core.outputs --root checkpoints

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/coverage.py
	$(BIN)/python benchmarks/upsampling.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/gallery.py
	$(BIN)/python benchmarks/audit.py

experiment: $(STAMP)
	$(BIN)/python -m core.train --jobs 2 --output checkpoints --overwrite

experiment-resume: $(STAMP)
	$(BIN)/python -m core.train --jobs 2 --output checkpoints --resume

experiment-gpu: $(STAMP)
	$(BIN)/python -m core.train --device cuda --output checkpoints --overwrite

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
