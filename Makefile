# OMS developer tasks. Run `make help` for the list.
# Everything uses .venv/bin/* explicitly; no activated virtualenv is assumed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PY ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
PYTHON := $(VENV)/bin/python
CELERY := $(VENV)/bin/celery
RUFF := $(VENV)/bin/ruff
STAMP := $(VENV)/.installed
P ?=

.PHONY: help install run test lint check migrate seed worker beat shell describe-platform bench-sweep bench-aftersales soak clean

help: ## Show this help
	@grep -E '^[a-zA-Z_.-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install runtime + dev requirements

run: install ## Migrate, seed demo data, start Celery worker+beat and the dev server
	bash scripts/run.sh

test: install ## Lint, import contracts, Django checks, migration check, then pytest (ARGS="..." for pytest)
	bash scripts/test.sh $(ARGS)

lint: install ## Run ruff check and the import contracts (lint-imports)
	$(RUFF) check .
	$(VENV)/bin/lint-imports --no-logo --no-cache

check: install ## Django system checks and missing-migration check
	$(PYTHON) manage.py check
	$(PYTHON) manage.py makemigrations --check --dry-run

migrate: install ## Apply database migrations
	mkdir -p var
	$(PYTHON) manage.py migrate --noinput

seed: install ## Seed the demo organisation (skipped if data exists)
	mkdir -p var
	$(PYTHON) manage.py seed_demo --if-empty

worker: install ## Run a Celery worker
	mkdir -p var
	$(CELERY) -A oms worker --loglevel=INFO

beat: install ## Run Celery beat
	mkdir -p var
	$(CELERY) -A oms beat --loglevel=INFO --schedule var/celerybeat-schedule

shell: install ## Open a Django shell
	$(PYTHON) manage.py shell

describe-platform: install ## Describe a platform: make describe-platform P=code
	@test -n "$(P)" || { echo "usage: make describe-platform P=<platform code>" >&2; exit 2; }
	$(PYTHON) manage.py describe_platform $(P)

bench-sweep: install ## Deadline sweep at 1,000,000 orders on PostgreSQL (ARGS="--orders 100000")
	$(PYTHON) bench/sweep.py $(ARGS)

bench-aftersales: install ## After-sales inbox query and case deadline sweep on PostgreSQL
	$(PYTHON) bench/aftersales.py $(ARGS)

soak: install ## The whole security and integrity probe on a loopback stack (ARGS="--area access races")
	$(PYTHON) -m soak $(ARGS)

clean: ## Remove the venv, caches and runtime state (var/)
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis artifacts staticfiles
	find . -type d -name __pycache__ -prune -exec rm -rf {} +
