PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-fast bench clean

# Idempotent: re-installs only when pyproject.toml changed. torch first, pinned to the CPU wheel.
setup: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,llm]'
	touch $(STAMP)

# Ingest the bundled corpus (no-op when unchanged) and start the server on it.
run: setup
	$(BIN)/assistant ingest corpus/
	$(BIN)/assistant serve

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

clean:
	rm -rf var .pytest_cache
