# The README's two commands: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser demo test test-fast hardening lint lint-sql format bench down clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vodflow needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start the local stack, deploy, run the pipeline once and print where to look.
demo: install
	$(BIN)/vodflow demo

## Headless Chromium for the browser checks (tests/e2e/test_views.py): nothing to do when it is on PATH; as root
## it installs Debian's package with apt-get, otherwise it says how to install it and fails.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Chromium (Debian's chromium package) for the browser checks"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
			command -v chromium >/dev/null || { echo "apt-get did not install chromium: see its messages above" >&2; exit 1; }; \
		else \
			echo "make test needs Chromium for its browser checks: run 'sudo apt-get install chromium' (Debian/Ubuntu) or put a chromium on PATH" >&2; \
			exit 1; \
		fi; }

## Lint, type-check and run the tests: the slow end-to-end ones, the browser checks, the chaos suite (the local
## stack's worker killed, PostgreSQL and the Prefect server restarted mid-run, 20 concurrent runs, provider and drop
## faults, a full disk) and the security suite (canary secrets, loopback listeners, database roles, hostile input).
## Two pytest-xdist workers share the work in units (a package, or a stack and its tests: see tests/conftest.py), the
## longest first; the 20 slowest tests are listed at the end.
## Chromium installs while pip does (both mostly wait on downloads and disks). mypy runs beside the tests at the
## lowest priority, so it takes only the CPU they leave idle (their stacks sleep and wait a good part of the run),
## and its verdict is printed after theirs; either failing fails the target.
PYTEST_WORKERS ?= 2
test:
	@$(MAKE) --no-print-directory -j2 install browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "$(BIN)/mypy (at the lowest priority, beside the tests; its verdict follows theirs)"
	@nice -n 19 $(BIN)/mypy > .mypy-beside-tests.log 2>&1 & mypy=$$!; \
		$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=20; tests=$$?; \
		wait $$mypy; types=$$?; echo "== mypy"; cat .mypy-beside-tests.log; rm -f .mypy-beside-tests.log; \
		[ $$tests = 0 ] && [ $$types = 0 ]

## Tests without the slow end-to-end ones.
test-fast: install
	$(BIN)/pytest -m "not slow"

## The hardening suites alone (docs/reliability.md, docs/security.md), as make test runs them: tests/chaos (provider
## faults, drops raced, a full disk; on a stack of its own the worker killed, PostgreSQL and the Prefect server
## restarted mid-run, a 30-window backfill beside live runs, 20 concurrent runs) and tests/security (the
## canary-secrets stack, loopback listeners, database roles, hostile input).
hardening: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder tests/chaos tests/security

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## sqlfluff on the dbt models (dbt templater, rules in .sqlfluff), against the database vodflow is configured
## for (the local stack's: `vodflow up` first). `make test` runs the same lint in pytest, on its own database.
lint-sql: install
	@exports="$$($(BIN)/python -c 'import shlex; from vodflow.db.urls import database_url; from vodflow.dbt import dbt_env; print("".join(f"export {k}={shlex.quote(v)}; " for k, v in dbt_env(database_url()).items()))')" \
		&& eval "$$exports" && $(BIN)/sqlfluff lint dbt_models/models dbt_models/tests

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Every benchmark under bench/; each ends with one line of JSON.
bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

down: install
	$(BIN)/vodflow down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
