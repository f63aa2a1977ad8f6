# Two commands on a fresh machine: `make demo` and `make test`.
# torch is pinned in every pip call (constraints.txt): an unpinned torch pulls
# gigabytes of CUDA packages; torch==2.13.0 resolves to a local CPU build here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade -c constraints.txt torch==2.13.0
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/gnnnas train --arch lightgcn --data online-retail --lr 0.005 --epochs 60 --eval-every 3 --patience 4 --out runs/demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python experiments/bench_train.py

clean:
	rm -rf $(VENV) runs build dist *.egg-info
