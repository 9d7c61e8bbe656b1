# Every target creates .venv and installs the project into it when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUNS ?= runs

.PHONY: install test lint demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check hwnas tests benchmarks profiling

test: lint
	$(BIN)/python -m pytest -q

# Search this machine's measured ONNX Runtime table under 1 ms, export the winner, verify it.
# Without ../shared/data the accuracy is a zero-cost estimate (labelled so) and nothing is downloaded.
demo: $(STAMP)
	$(BIN)/hwnas search --device local-ort --dataset cifar10 --budget-ms 1 --queries 100 --seed 0 --export $(RUNS)/demo-model

# The search suite (resumable: finished runs are skipped); other benchmarks: see benchmarks/*/README.md
bench: $(STAMP)
	$(BIN)/hwnas bench --searchers random,rea,local,optiproxy,proxybo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
