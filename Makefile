# Two commands on a fresh machine: `make demo` and `make test`.
# torch is pinned in every pip call (constraints.txt): an unpinned torch pulls
# gigabytes of CUDA packages; torch==2.13.0 resolves to a local CPU build here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench report-example clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade -c constraints.txt torch==2.13.0
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job on the bundled dataset, sized for a 2-core CPU (under 10 minutes with the install): 16
# candidates of the default space, each with at most 20 epochs and 25 s of training, cost-matched ASHA
# pruning, the search capped at 330 s; then the 2 best are retrained without the 25 s limit (up to 100 epochs, early
# stopping) within 120 s, and best/ is the better on validation. Running it again prints the finished study.
DEMO_FLAGS ?= --trials 16 --max-epochs 20 --trial-timeout 25 --timeout 330 --final-fit 2 --final-epochs 100 \
	--final-timeout 120

demo: setup
	$(BIN)/gnnnas search --space default $(DEMO_FLAGS)

# The committed example report (reports/example-report.html), rebuilt from the demo's study in runs/default
# (run make demo first). One file: plotly.js is inlined once, about 4.5 MB of it.
report-example: setup
	$(BIN)/gnnnas report runs/default --out reports/example-report.html

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python experiments/bench_train.py

clean:
	rm -rf $(VENV) runs build dist *.egg-info
