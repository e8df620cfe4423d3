# The two commands a new user needs (README.md): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run manage test lint bench mutate mutate-report clean-venv

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

## run: the portal on http://localhost:8000 with a worker, beat, the Zoom sandbox and a demo tenant
run: $(STAMP)
	$(BIN)/python scripts/run_local.py

## manage: a manage.py command against the `make run` portal, e.g. make manage ARGS="zoom_sync demo"
manage: $(STAMP)
	$(BIN)/python scripts/run_local.py manage $(ARGS)

## test: the whole suite against PostgreSQL and Redis (DATABASE_URL, REDIS_URL)
test: $(STAMP)
	$(BIN)/python scripts/check_services.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

## bench: every benchmark under bench/, results in bench/results/ and docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python scripts/check_services.py
	$(BIN)/python -m bench

## mutate: mutation testing of the critical modules against their fast tests (slow, not in CI);
## MUTANTS="zoom_integration.quality*" limits it. One child at a time: mutmut's children would
## share one test database, and one child's flush or lock would fail the other's tests.
MUTANTS ?=
mutate: $(STAMP)
	$(BIN)/python scripts/check_services.py
	$(BIN)/mutmut run --max-children 1 $(MUTANTS)
	$(BIN)/python scripts/mutation_report.py

## mutate-report: the last run's totals, and any survivor not on docs/mutants-equivalent.toml
mutate-report: $(STAMP)
	$(BIN)/python scripts/mutation_report.py

clean-venv:
	rm -rf $(VENV)
