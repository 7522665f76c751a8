# Set-up is two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
export FLASK_APP := wsgi

.PHONY: docs install run migrate test lint format clean bench bench-smoke bench-scale \
	bench-evershop bench-import bench-profile evershop-install test-evershop db-check test-examples lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Dependencies from the lock file, their hashes checked (make lock writes it
# from pyproject.toml); then the project itself, resolving nothing again.
# Reinstall whenever either changes.
$(VENV)/.installed: pyproject.toml requirements/test.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/test.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The lock files, from pyproject.toml: the service's (the Dockerfile installs
# it) and the tests' (make install). Run after changing a dependency.
PIP_COMPILE = $(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	--no-emit-index-url --no-emit-find-links
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet "pip-tools>=7.4"
	$(PIP_COMPILE) --output-file requirements/service.lock pyproject.toml
	$(PIP_COMPILE) --extra test --output-file requirements/test.lock pyproject.toml

install: $(VENV)/.installed

migrate: install
	$(BIN)/flask db upgrade

# Serves on http://$(HOST):$(PORT) with the embedded SQLite database unless
# DATABASE_URL says otherwise; every setting comes from the environment.
run: migrate
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# The whole suite, on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.
# pytest-xdist workers, one per core (each with databases of its own; a
# file's tests stay on one worker, so its fixtures are made once). On 2 cores
# the suite took 30 min with two workers and longer in one process, whose
# progress pointed at 35 to 40; TEST_WORKERS=0 runs it in-process.
TEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The plugins of examples/ and one made by `flask plugins new`: each installed with
# pip into the virtualenv and tested by its own suite through the service's pytest
# plugin (on PostgreSQL too when TEST_DATABASE_URL is set); uninstalled afterwards.
test-examples: install
	$(BIN)/python scripts/test_examples.py

# The models and the migrations agree: fresh SQLite and PostgreSQL databases
# (TEST_DATABASE_URL's server, or the local one) migrated, then `flask db check`.
db-check: install
	$(BIN)/python scripts/db_check.py

# The real EverShop 2.2.1 beside the service (docs/evershop.md): npm install and
# production build into EVERSHOP_CACHE (default ~/.cache/evershop-customer-service/),
# once; a few minutes cold, a second when cached.
evershop-install: install
	$(BIN)/python scripts/evershop.py install

# The coexistence suite against that EverShop, on PostgreSQL only; fails when
# EverShop cannot be installed.
test-evershop: evershop-install
	TEST_DATABASE_URL="$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}" \
		$(BIN)/python -m pytest tests/evershop -m evershop $(PYTEST_ARGS)

# Load benchmarks against gunicorn + the local PostgreSQL (docs/performance.md).
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-smoke: install
	$(BIN)/python bench/run.py --smoke

# Flame graphs of the hot paths under load, into bench/profiles/ (py-spy).
bench-profile: install
	$(BIN)/python bench/profile.py $(BENCH_ARGS)

bench-scale: install
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

# The service against EverShop 2.2.1 in one run, alternating rounds
# (docs/performance.md, "Against EverShop"); about 45 minutes, not in CI.
bench-evershop: evershop-install
	$(BIN)/python bench/compare.py $(BENCH_ARGS)

# flask customers import of 100,000 customers into a fresh PostgreSQL database.
bench-import: install
	$(BIN)/python bench/import_customers.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache

# The plugin reference is generated from the code (docs/plugin-reference.md).
docs: install
	$(BIN)/python scripts/plugin_reference.py
