# newsflow: `make run` sets up .venv and runs the pipeline; `make test` runs the tests.
# Python 3.11, 3.12 or 3.13. The venv's own Python once .venv exists; else PYTHON when given
# (`make run PYTHON=python3.13`; a different version than the venv's rebuilds it), else the first
# of python3, python3.13, python3.12 and python3.11 that is a supported version.
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
VENV ?= .venv
BIN := $(VENV)/bin
ifeq ($(origin PYTHON),undefined)
PYTHON := $(or $(wildcard $(BIN)/python),$(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c '$(SUPPORTED)' 2>/dev/null && { command -v $$p; break; }; done))
endif
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP := $(VENV)/.installed-python$(PY_VERSION)

RAW_DIR ?= data/raw
PROCESSED_DIR ?= data/processed
CACHE_DIR ?= $(or $(NEWSFLOW_CACHE_DIR),data/cache)

PREFECT_PORT ?= 4200
SERVER_ENV := PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api PREFECT_UI_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api

.PHONY: install run test e2e clear-cache schema-doc bench bench-scale bench-object-storage server serve deploy worker ui-check

$(STAMP): pyproject.toml
	@$(PYTHON) -c '$(SUPPORTED)' 2>/dev/null || { echo "newsflow needs Python 3.11, 3.12 or 3.13;" \
		"$(or $(PYTHON),none was found) is not one: run make with PYTHON=/path/to/python3.x" >&2; exit 1; }
	@if [ "$$($(BIN)/python -V 2>&1)" != "$$($(PYTHON) -V 2>&1)" ]; then \
		echo "creating $(VENV) with $$($(PYTHON) -V)"; $(PYTHON) -m venv --clear $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsflow run --raw-dir $(RAW_DIR) --processed-dir $(PROCESSED_DIR) --cache-dir $(CACHE_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

# The end-to-end tests alone, e.g. on another Python: make e2e PYTHON=python3.13 VENV=build/venv-3.13
e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e

clear-cache: $(STAMP)
	$(BIN)/newsflow clear-cache --cache-dir $(CACHE_DIR)

schema-doc: $(STAMP)
	$(BIN)/python -m tasks.schemas > docs/schema.md

bench: $(STAMP)
	$(BIN)/python bench/pipeline_bench.py --json bench/results/pipeline.json

# The same text as 2,225 articles and as about 27,500 short documents: does a run cost what changed?
bench-scale: $(STAMP)
	$(BIN)/python bench/scale_bench.py --json bench/results/scale.json

# Local disk against a local S3 server (moto): cold, unchanged and one added (docs/performance.md).
bench-object-storage: $(STAMP)
	$(BIN)/python bench/object_storage_bench.py --json bench/results/object_storage.json

# Operating: the Prefect server with its UI on 127.0.0.1, then either `make serve` (one process
# runs the flow on its cron schedule) or `make deploy` + `make worker` (a process work pool).
server: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

serve: $(STAMP)
	$(SERVER_ENV) $(BIN)/newsflow serve --raw-dir $(RAW_DIR) --processed-dir $(PROCESSED_DIR) --cache-dir $(CACHE_DIR)

deploy: $(STAMP)
	$(SERVER_ENV) $(BIN)/prefect work-pool create newsflow-process --type process --overwrite
	$(SERVER_ENV) NEWSFLOW_HOME=$(CURDIR) $(BIN)/prefect --no-prompt deploy --name newsflow-hourly

worker: $(STAMP)
	$(SERVER_ENV) $(BIN)/prefect worker start --pool newsflow-process

ui-check: $(STAMP)
	$(BIN)/python -m pytest tests/test_ui.py -q
	@echo "screenshot: build/ui/flow-run.png"
