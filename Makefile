# Federa. A newcomer needs two commands:
#   make demo   virtualenv, install, database, demo data, serve on http://127.0.0.1:5000
#   make test   every test tier: SQLite, PostgreSQL, migrations check, Redis broker, browser
# Works on a fresh Debian with python3.11 (python3-venv); the test tiers need PostgreSQL and Redis on
# 127.0.0.1 and Chromium (see .ci/run, which installs and starts what is missing).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.federa-installed

HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_DIR ?= $(CURDIR)/instance
# The demo always runs the embedded way: SQLite under ./instance, jobs in-process.
DEMO_ENV = FEDERA_DATA_DIR="$(DEMO_DIR)" FEDERA_DATABASE_URL="sqlite:///$(DEMO_DIR)/federa.sqlite" FEDERA_REDIS_URL=

PG ?= postgresql://postgres@127.0.0.1:5432
REDIS ?= redis://127.0.0.1:6379/0
# Two workers on two cores; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
PYTEST = $(BIN)/python -m pytest
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))
UNIT_TIERS = -m "not redis and not e2e"
MIGCHECK_DB ?= federa_migcheck
# Creates/drops PostgreSQL databases without needing psql.
PGADMIN = $(BIN)/python -c 'import sys, sqlalchemy as sa; \
	conn = sa.create_engine(sys.argv[1], isolation_level="AUTOCOMMIT").connect(); \
	[conn.execute(sa.text(sql)) for sql in sys.argv[2:]]' "$(subst postgresql://,postgresql+psycopg://,$(PG))/postgres"

.PHONY: help setup translations translations-extract translations-update translations-compile demo serve test test-sqlite test-postgres check-migrations test-redis test-e2e \
	bench clean

help:
	@echo "make demo              install, create the SQLite database, load demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test              all test tiers (SQLite, PostgreSQL, migrations, Redis, browser)"
	@echo "make test-sqlite       the suite on SQLite only (fast)"
	@echo "make test-postgres     the suite on PostgreSQL ($(PG))"
	@echo "make check-migrations  an empty PostgreSQL database upgrades and agrees with the models"
	@echo "make test-redis        the job tier on the real Redis broker ($(REDIS))"
	@echo "make test-e2e          the browser tier (Chromium)"
	@echo "make bench             benchmarks (start-up; people list on PostgreSQL with 100,000 people)"
	@echo "make clean             remove the virtualenv and the demo database"

# --- setup ------------------------------------------------------------------------------------------

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "cannot create a virtualenv: install python3-venv (apt-get install python3-venv)"; exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

# Compiles every translations folder that has catalogues (core and plugins); .mo files are not committed.
translations: $(STAMP)
	@for dir in $$(find core plugins mobile_api -type d -name translations 2>/dev/null); do \
		if compgen -G "$$dir/*/LC_MESSAGES/*.po" >/dev/null; then $(BIN)/pybabel -q compile -f -d "$$dir"; fi; \
	done

setup: $(STAMP) translations

# The catalogue: one "messages" domain for core, plugins and the member app (see babel.cfg).
# Extract after adding UI strings, update the nl/fr/en .po files, translate, compile (make setup compiles too).
translations-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 \
		-o core/translations/messages.pot .

translations-update: translations-extract
	$(BIN)/pybabel update -i core/translations/messages.pot -d core/translations --no-fuzzy-matching \
		--ignore-obsolete

translations-compile: translations

# --- the demo ---------------------------------------------------------------------------------------

demo: setup
	$(DEMO_ENV) $(BIN)/federa db upgrade
	$(DEMO_ENV) $(BIN)/federa demo-data
	$(DEMO_ENV) FEDERA_DEMO_MODE=1 $(BIN)/federa serve --host $(HOST) --port $(PORT)

# Serve the existing demo database again without reloading anything.
serve: setup
	$(DEMO_ENV) FEDERA_DEMO_MODE=1 $(BIN)/federa serve --host $(HOST) --port $(PORT)

# --- tests ------------------------------------------------------------------------------------------

test: test-sqlite test-postgres check-migrations test-redis test-e2e

test-sqlite: setup
	env -u FEDERA_TEST_DATABASE_URL $(PYTEST) $(XDIST) $(UNIT_TIERS)

test-postgres: setup
	FEDERA_TEST_DATABASE_URL=$(PG)/federa_test $(PYTEST) $(XDIST) $(UNIT_TIERS)

check-migrations: setup
	$(PGADMIN) "DROP DATABASE IF EXISTS $(MIGCHECK_DB) WITH (FORCE)" "CREATE DATABASE $(MIGCHECK_DB)"
	FEDERA_DATABASE_URL=$(PG)/$(MIGCHECK_DB) FEDERA_DATA_DIR="$(CURDIR)/$(VENV)/migcheck" FEDERA_SECRET_KEY=migcheck \
		FEDERA_REDIS_URL= $(BIN)/federa db upgrade
	FEDERA_DATABASE_URL=$(PG)/$(MIGCHECK_DB) FEDERA_DATA_DIR="$(CURDIR)/$(VENV)/migcheck" FEDERA_SECRET_KEY=migcheck \
		FEDERA_REDIS_URL= $(BIN)/federa db check
	$(PGADMIN) "DROP DATABASE IF EXISTS $(MIGCHECK_DB) WITH (FORCE)"

# Tiers that may have no tests yet: pytest's exit code 5 ("no tests collected") is not a failure there.
test-redis: setup
	FEDERA_TEST_REDIS_URL=$(REDIS) $(PYTEST) -m redis || { rc=$$?; [ $$rc -eq 5 ] && echo "no redis tests"; }

test-e2e: setup
	$(PYTEST) -m e2e || { rc=$$?; [ $$rc -eq 5 ] && echo "no browser tests"; }

# --- benchmarks (never part of make test) ------------------------------------------------------------

bench: setup
	$(BIN)/python bench/startup.py
	FEDERA_BENCH_DATABASE_URL=$${FEDERA_BENCH_DATABASE_URL:-$(PG)/federa_bench} $(BIN)/python bench/people_list.py

clean:
	rm -rf $(VENV) "$(DEMO_DIR)"
