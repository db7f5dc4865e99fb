# newsflow: `make run` sets up .venv and runs the pipeline; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

RAW_DIR ?= data/raw
PROCESSED_DIR ?= data/processed
CACHE_DIR ?= data/cache

.PHONY: install run test clear-cache schema-doc

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsflow run --raw-dir $(RAW_DIR) --processed-dir $(PROCESSED_DIR) --cache-dir $(CACHE_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

clear-cache: $(STAMP)
	$(BIN)/newsflow clear-cache --cache-dir $(CACHE_DIR)

schema-doc: $(STAMP)
	$(BIN)/python -m tasks.schemas > docs/schema.md
