# Two commands after `git clone`:  make repro   (the default pipeline)   make test   (the suite)
# Both create .venv and install the project into it first; re-running them is safe.

VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
# Offline copies of the data: MNIST from ../shared/mnist when present (see README).
MNIST_DIR ?= $(wildcard $(abspath ../shared/mnist))
export MNIST_DIR
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup repro best test lint dag report plots screenshots bench params study pages search protocol clean-venv
REV ?= HEAD

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

repro: setup
	$(BIN)/dvc repro
	@cat metrics/summary.md

# The best configuration measured (conf/experiment/best.yaml) as a DVC experiment on the default
# subset; a GPU workstation's job (on a 2-core AVX2 CPU its parts took 43 min for the CGAN and
# about 16 min per pair of CNNs, three pairs). Then `dvc exp show`.
best: setup
	$(BIN)/dvc exp run -S experiment=best
	@cat metrics/summary.md

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Includes the real-MNIST smoke run (tests/test_pipeline.py) whenever MNIST_DIR is set.
test: lint
	$(BIN)/python -m pytest -ra --durations=5

# params.yaml from conf/ (Hydra presets), exactly as `dvc exp run` composes it.
params: setup
	$(BIN)/python scripts/compose_params.py $(PRESETS)

dag: setup
	$(BIN)/dvc dag

# The pull-request report of the workspace against REV: report/report.md (exit 3 if stale)
report: setup
	$(BIN)/python scripts/report.py --rev $(REV) --out report --strict

# The plots page, offline: dvc_plots/index.html
plots: setup
	$(BIN)/python scripts/plots_page.py --out dvc_plots

# docs/screenshots/: the plots page and the report (against HEAD) as a browser shows them
screenshots: setup
	$(BIN)/python scripts/plots_page.py --out dvc_plots
	$(BIN)/python scripts/browser_check.py dvc_plots/index.html --screenshot docs/screenshots/plots-page.png
	$(BIN)/python scripts/report.py --rev $(REV) --out report
	$(BIN)/python scripts/browser_check.py report/report.md --width 880 --screenshot docs/screenshots/report.png

# The project's loops against the recipe's original loop on this machine; prints ratios.
bench: setup
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The study: every (preset, n_per_class, subset) point of a grid (conf/study/$(GRID).yaml) as a
# queued DVC experiment, resumable; then docs/results/study/study.{csv,md} and one figure per dataset
# (`make pages` then writes the README's and results page's tables from them).
# STUDY_ARGS narrows or overrides it (--help).
GRID ?= default
study: setup
	$(BIN)/python scripts/study.py --grid $(GRID) $(STUDY_ARGS)

# The README's and the results page's generated blocks from docs/results/study/study.csv, on purpose
# (a study run never rewrites them); a test fails while they are stale.
pages: setup
	$(BIN)/python scripts/study.py --pages

# The real-only baseline search (conf/study/$(SEARCH).yaml): candidate classifiers scored on
# held-out training images, never the test split; docs/results/search/$(SEARCH).csv.
SEARCH ?= baseline
search: setup
	$(BIN)/python scripts/search.py --grid $(SEARCH) $(SEARCH_ARGS)

# The timed protocol: three subsets of 100 per class, the generator and three sources each,
# three experiments side by side; prints its time.
protocol: setup
	$(BIN)/python scripts/study.py --grid protocol $(STUDY_ARGS)

clean-venv:
	rm -rf $(VENV)
