# smsportal — `make demo` runs the portal with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export PYTHONUNBUFFERED := 1
# Two pytest workers by default (each gets its own test database); PYTEST_ARGS= runs serially.
PYTEST_ARGS ?= -n 2

.PHONY: demo test bench setup venv sysdeps db migrate seed messages static lint fmt check clean-db stop-db

setup: venv sysdeps db migrate messages

venv: $(STAMP)
$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

# System packages pip cannot provide: Pango (WeasyPrint), a CJK font (Chinese in PDFs),
# gettext (translations), chromium (browser tests). Installed when missing and we are root.
sysdeps:
	@bash bin/sysdeps

db: venv
	@$(PY) -m smsportal.devdb start >/dev/null

migrate: db
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py ensure_schedules -v 0

messages: venv
	$(PY) manage.py compilemessages -v 0 --ignore=.venv

static: venv
	$(PY) manage.py collectstatic --noinput -v 0

seed: migrate
	$(PY) manage.py seed_demo

demo: setup seed
	@bash bin/demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) manage.py bench --scale $${BENCH_SCALE:-small}

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run -v 0
	$(PY) manage.py check_translations

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

stop-db: venv
	$(PY) -m smsportal.devdb stop
