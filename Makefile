# The ABE Portal's commands. `make run` and `make test` are all a newcomer needs (README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
MANAGE := $(BIN)/python manage.py

.PHONY: install run serve test lint format bench messages lock clean help

help:
	@echo "make run    - install into $(VENV), migrate, load reference + demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install into $(VENV), run the test suite in parallel (uses DATABASE_URL / REDIS_URL when set)"
	@echo "make lint   - ruff, import-linter (the layers), mypy (django-stubs; --strict for core/ and the access door), makemigrations --check"
	@echo "make bench  - benchmarks (print rows/s, ms and query counts)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a lock changes. A checkout for development and CI gets the portal's packages
# (requirements.txt, all the production image installs) and the test and lint tools (requirements-dev.txt).
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# After changing user-facing text: extract, translate locale/th/LC_MESSAGES/django.po, compile.
# The compiled .mo files are committed, so running the portal needs no gettext tools.
messages: install
	$(MANAGE) makemessages -l th -l en --ignore "$(VENV)/*" --ignore "staticfiles/*" --no-obsolete
	$(MANAGE) compilemessages --ignore "$(VENV)/*"

run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) load_reference_data
	$(MANAGE) load_demo_data
	@echo "Serving the ABE Portal on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	$(MANAGE) runserver $(HOST):$(PORT)

# In parallel: one pytest-xdist worker per core (TEST_WORKERS=0 runs serially), each with its own
# test database and Redis database (conftest.py). loadgroup keeps tests marked xdist_group together.
# Bytecode is cached even where the environment says PYTHONDONTWRITEBYTECODE: without it every
# process (pytest, each xdist worker, each Celery worker a test starts) compiles the project again,
# and pytest rewrites the asserts of its plugins' some 400 modules again, ~5 s a process.
TEST_WORKERS ?= auto
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# import-linter holds the layers of README.md's "Architecture" (pyproject.toml, [tool.importlinter]); mypy reads
# [tool.mypy] there: the whole checkout at default strictness, core/ and the access door with the --strict flags.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/mypy
	$(MANAGE) makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

# Regenerate both locks: requirements.txt from requirements.in, then requirements-dev.txt from
# requirements-dev.in, which the first constrains (-c), so a package both need has one version.
LOCK := $(BIN)/pip-compile --quiet --no-header --strip-extras --no-emit-index-url --no-emit-find-links
lock: install
	$(BIN)/python -m pip install --quiet pip-tools
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
