# Two commands: `make dev` (demo UI on 127.0.0.1:3000) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export HUB_REGISTRY ?= $(CURDIR)/demo/registry.yaml

.PHONY: dev test install clean

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

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .hub .dagster_home dbt/target dbt/logs
