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

demo: $(STAMP)
	$(BIN)/hwnas data list
	$(BIN)/hwnas devices list
	$(BIN)/hwnas arch show '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'
	# search this machine's measured ONNX Runtime table under 1 ms, export the winner, verify it
	$(BIN)/hwnas search --device local-ort --dataset cifar10 --budget-ms 1 --queries 100 --seed 0 --export $(RUNS)/demo-model

# The search suite (resumable: finished runs are skipped); other benchmarks: see benchmarks/*/README.md
bench: $(STAMP)
	$(BIN)/hwnas bench --searchers random,rea,local,optiproxy,proxybo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
