PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test test-fast portal bench clean

# Idempotent: installs only when pyproject.toml changed. torch first, pinned to its CPU wheel.
setup: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,llm]'
	touch $(STAMP)

# Index the bundled corpus (a no-op when unchanged), then serve the API, widget and demo page.
run: setup
	@echo "indexing corpus/ into $${ASSISTANT_DATA_DIR:-var} (unchanged files are skipped) …"
	$(BIN)/assistant ingest corpus/
	@echo "serving on http://$(HOST):$(PORT) — open it in a browser (Ctrl-C stops it)"
	$(BIN)/assistant serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

# The 2,642 National Public Service Portal records and the question bank's example questions
# (about 10 minutes with the default embedder).
QUESTIONS := ../shared/data/questions
portal: setup
	$(BIN)/assistant ingest ../shared/data/procedures/dichvucong_2642.jsonl $(QUESTIONS)/bank.jsonl $(QUESTIONS)/refuse.jsonl

clean:
	rm -rf var .pytest_cache
