# Dealbridge — the two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install messages migrate seed worker beat lint format check-compose test-pg bench-matching bench-conflicts bench-api bench-reports bench-custom-fields bench-crm clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	@if $(PY) -m pip install -q uv >/dev/null 2>&1; then \
	  $(VENV)/bin/uv pip install --python $(PY) -q -e ".[dev,bench]"; \
	else \
	  $(PY) -m pip install -q -e ".[dev,bench]"; \
	fi
	@touch $(STAMP)

# Translations (README "Languages"): the .po files are the source, the .mo files are built
# (not committed): with GNU gettext's msgfmt through compilemessages when it is installed,
# else with the pure-Python prm/lib/msgfmt.py, so a machine with only Python can build them.
MO := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(STAMP)
	@if command -v msgfmt >/dev/null 2>&1; then \
	  $(PY) manage.py compilemessages -l $* --ignore=.venv --ignore=var -v 0; \
	else \
	  $(PY) -m prm.lib.msgfmt $< >/dev/null; \
	fi

install: $(STAMP) $(MO)

## messages: re-extract the strings into locale/{de,fr,es} (then translate every new msgstr)
messages: $(STAMP)
	@$(PY) manage.py makemessages -l de -l fr -l es --no-obsolete --add-location=file \
	  --ignore='.venv/*' --ignore='var/*' --ignore='tests/*' --ignore='bench/*' --ignore='build/*'

migrate: $(STAMP) $(MO)
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py setup_schedules

seed: migrate
	@$(PY) manage.py seed_demo
	@$(PY) manage.py seed_rewards

## run: the app with demo data on SQLite, a Celery worker + beat on a filesystem broker (no servers)
run: seed
	@mkdir -p var/log
	@$(PY) manage.py collectstatic --noinput -v 0
	@echo "Starting the Celery worker and beat (logs: var/log/worker.log, var/log/beat.log)"
	@$(VENV)/bin/celery -A prm worker --pool=solo --loglevel=INFO > var/log/worker.log 2>&1 & echo $$! > var/worker.pid
	@$(VENV)/bin/celery -A prm beat --loglevel=INFO --pidfile= > var/log/beat.log 2>&1 & echo $$! > var/beat.pid
	@echo "E-mails are written to var/mail/ (one file per message)."
	@echo "Serving http://$(HOST):$(PORT)/  (Ctrl-C stops the server, the worker and beat)"
	@trap 'kill $$(cat var/worker.pid) $$(cat var/beat.pid) 2>/dev/null; rm -f var/worker.pid var/beat.pid' EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT)

## test: the whole default suite on SQLite (set DATABASE_URL for PostgreSQL)
test: $(STAMP) $(MO)
	@$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports

format: $(STAMP)
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

check-compose: $(STAMP)
	@$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

bench-matching: $(STAMP)
	@$(PY) -m bench.matching_eval

bench-conflicts: $(STAMP)
	@$(PY) -m bench.conflict_check $(BENCH_ARGS)

bench-api: $(STAMP)
	@$(PY) -m bench.api_load $(BENCH_ARGS)

bench-reports: $(STAMP)
	@$(PY) -m bench.reports $(BENCH_ARGS)

bench-custom-fields: $(STAMP)
	@$(PY) -m bench.custom_fields $(BENCH_ARGS)

bench-crm: $(STAMP)
	@$(PY) -m bench.crm_sync $(BENCH_ARGS)

clean:
	rm -rf var $(VENV)
