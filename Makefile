# seedwatch: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test test-slow run eval bench bench-peers clean

help:
	@echo "make demo       run the whole pipeline offline on bundled sample feeds"
	@echo "make test       run the test suite"
	@echo "make run        start the daemon on ./seedwatch.db and seeds/"
	@echo "make eval       relevance and copy/duplicate quality on ../shared/eval (EVAL_DATA=...)"
	@echo "make bench      performance: 200 feeds x 50 entries from a local feed farm, beside reader if installed (BENCH_ARGS=--help)"
	@echo "make bench-peers  install lemon24/reader in bench/.venv-peers, then make bench"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seedwatch demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

EVAL_DATA ?= ../shared/eval/ecbplus-dev.jsonl

eval: $(STAMP)
	@mkdir -p bench/results
	$(BIN)/python bench/eval_quality.py $(EVAL_DATA) --json bench/results/eval.json

# The benchmark (bench/README.md); its text is ../shared/eval/ecbplus-dev.jsonl unless BENCH_CORPUS names another.
BENCH_ARGS ?=
PEERS       := bench/.venv-peers
PEERS_STAMP := $(PEERS)/.installed

$(PEERS_STAMP):
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet reader sgmllib3k
	@touch $(PEERS_STAMP)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-peers: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

run: $(STAMP)
	$(BIN)/seedwatch --db ./seedwatch.db --seeds-dir seeds run

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
