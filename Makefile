# newsflow: `make run` sets up .venv and runs the pipeline; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

RAW_DIR ?= data/raw
PROCESSED_DIR ?= data/processed
CACHE_DIR ?= data/cache

PREFECT_PORT ?= 4200
SERVER_ENV := PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api PREFECT_UI_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api

.PHONY: install run test clear-cache schema-doc bench server serve deploy worker ui-check

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

bench: $(STAMP)
	$(BIN)/python bench/pipeline_bench.py --json bench/results/pipeline.json

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
