# seedwatch: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test test-slow run eval clean

help:
	@echo "make demo       run the whole pipeline offline on bundled sample feeds"
	@echo "make test       run the test suite"
	@echo "make run        start the daemon on ./seedwatch.db and seeds/"
	@echo "make eval       relevance and copy/duplicate quality on ../shared/eval (EVAL_DATA=...)"

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
	$(BIN)/python bench/eval_quality.py $(EVAL_DATA) --json bench/results/eval.json

run: $(STAMP)
	$(BIN)/seedwatch --db ./seedwatch.db --seeds-dir seeds run

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
