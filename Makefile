# Two commands: `make dev` (demo UI on 127.0.0.1:3000) and `make test` (the whole suite).
# Production: `make prod` (separate services on PostgreSQL; docs/deploy.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export HUB_REGISTRY ?= $(CURDIR)/demo/registry.yaml

.PHONY: dev test install clean prod worker

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# dagster-dbt loads dbt/target/manifest.json at import: `dbt parse` makes it (definitions also run it if missing).
DBT_SOURCES := $(shell find dbt -path dbt/target -prune -o \( -name '*.sql' -o -name '*.yml' \) -print)
dbt/target/manifest.json: $(VENV)/.installed $(DBT_SOURCES)
	cd dbt && $(abspath $(BIN))/dbt parse --quiet --profiles-dir .

install: $(VENV)/.installed dbt/target/manifest.json

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m demo.seed $(HUB_REGISTRY)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# DAGSTER_PG_URL and HUB_WAREHOUSE_URL must name PostgreSQL databases; deploy/stack.py says what is missing.
PROD_HOME ?= $(CURDIR)/.dagster_prod
prod: export DAGSTER_HOME := $(PROD_HOME)
prod: install
	mkdir -p $(PROD_HOME)
	cp deploy/dagster.postgres.yaml $(PROD_HOME)/dagster.yaml
	$(BIN)/python deploy/stack.py

# A Celery worker for HUB_EXECUTOR=celery: on each worker machine, with the stack's PostgreSQL, broker and archive env.
worker: install
	$(BIN)/celery -A dagster_project.celery_app worker -Q $${HUB_CELERY_QUEUE:-hub} --prefetch-multiplier 1 -l INFO

# Test files run in parallel worker processes (pytest-xdist); a file's tests stay in one worker; the longest files
# start first (tests/conftest.py LONGEST_FIRST).
TEST_WORKERS ?= 3
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

clean:
	rm -rf $(VENV) .hub .dagster_home .dagster_prod dbt/target dbt/logs
