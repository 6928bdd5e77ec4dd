# warwatch — make targets users' scripts rely on (see README): install, test, demo, airflow.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := .local/.node-fetched
PORT   ?= 9200
TEST_PORT ?= 9200
AIRFLOW_HOME ?= $(CURDIR)/airflow-home

PRODUCTION_STAMP := $(VENV)/.installed-production

.PHONY: help install test test-fast test-production demo airflow lint typecheck bench-extraction clean-data

help:
	@echo "make install   create .venv, install warwatch with dev deps, fetch the local search node"
	@echo "make demo      install if needed, then run the main job on the bundled demo site"
	@echo "make test      install if needed, start the local search node, run the test suite"
	@echo "make test-production  the production shape: Postgres, Redis, Airflow with Celery workers, a 3-node cluster, a secured node, S3 object storage (installs what is missing)"
	@echo "make test-fast the edit loop: every test that needs no search node, JVM, Airflow, browser or crawl"
	@echo "make airflow   Airflow standalone on 127.0.0.1 with this project's DAGs"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 is required (python3.11 or python3 on PATH)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || \
	  { echo "error: Python 3.11 is required (found $$($(PYTHON) --version))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[airflow,dev]" > $(VENV)/install.log 2>&1 || { tail -30 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

$(NODE_STAMP): $(STAMP) $(wildcard warwatch/localnode/*.py)
	$(BIN)/warwatch local-es fetch
	$(BIN)/warwatch local-es fetch --engine elasticsearch
	$(BIN)/warwatch local-es fetch --engine opensearch-knn
	@mkdir -p .local && touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

# Three pytest-xdist workers on the 2 cores (many tests wait on subprocesses, servers and the search
# node: a third worker fills that time); work units are test files, or files sharing a session
# service (airflow standalone, the bare Elasticsearch node), sent longest first (tests/scheduling.py).
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 3
FAST_WORKERS ?= 2

test: install
	@bash scripts/run-tests.sh -n $(TEST_WORKERS) --dist loadfile -m "not production"

# Markers come from the fixtures a test uses (tests/conftest.py: FIXTURE_MARKERS).
FAST_MARKERS := not (es or jvm or airflow or browser or crawl or slow or production)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(FAST_WORKERS) --dist loadfile -m "$(FAST_MARKERS)"

# The production extra (Celery provider, Redis client, psycopg2) on top of the dev install.
$(PRODUCTION_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[airflow,dev,production]" > $(VENV)/install-production.log 2>&1 || { tail -30 $(VENV)/install-production.log; exit 1; }
	@touch $(PRODUCTION_STAMP)

# The production shape (issue #18), never part of `make test`: starts Postgres, Redis and Airflow
# (api-server, scheduler, dag-processor, Celery workers) on 127.0.0.1, and the tests start a 3-node
# local cluster (9231-9233) and a secured Elasticsearch node themselves; runs tests/production and
# stops what it started (scripts/test-production.sh).
test-production: install $(PRODUCTION_STAMP)
	@bash scripts/test-production.sh

demo: install
	$(BIN)/warwatch demo

airflow: install
	@bash scripts/airflow-standalone.sh

lint: install
	$(BIN)/ruff check indexing crawlers warwatch dags tests benchmarks demo
	$(BIN)/mypy
	$(BIN)/vulture indexing crawlers warwatch dags vulture_whitelist.py --min-confidence 80

typecheck: install
	$(BIN)/mypy

bench-extraction: install
	$(BIN)/python benchmarks/extraction.py ../shared/datasets/article-extraction-dev
