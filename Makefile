# diags-kit: the two Quickstart commands, and the rest of the developer loop.
# Every target creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SEED ?= 42
TOKEN ?= YOUR_API_TOKEN

.PHONY: serve test lint unit contract conformance bench install clean postgres

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The mock alone (no test tools).
$(VENV)/.mock-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[mock]'
	touch $@

# Everything: the mock, the contract suite and the developer tools.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.mock-installed

install: $(VENV)/.dev-installed

# Debian's postgresql for the PostgreSQL tests, installed when missing; never fails (those tests then skip).
postgres:
	scripts/ensure_postgres.sh

## Start the mock on http://$(HOST):$(PORT)/api/v1 with the default seed and token.
serve: $(VENV)/.mock-installed
	$(BIN)/python -m mockserver serve --host $(HOST) --port $(PORT) --seed $(SEED) --token $(TOKEN)

## Lint, type-check, the unit tests, and the contract suite against its own embedded mock.
test: install lint unit contract

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy mockserver schemas fixtures contract_tests bench pytest_diags_mock.py

# In parallel (pytest-xdist), one worker per core; a module's tests stay on one worker, so that a
# module-scoped server is started once.
unit: install postgres
	$(BIN)/python -m pytest tests examples -q -n auto --dist loadfile

contract: install
	$(BIN)/python -m pytest contract_tests -q

MAX_EXAMPLES ?= 100
## Schemathesis against the mock: every phase, positive and negative data, all checks (MAX_EXAMPLES per operation).
conformance: install
	VENV=$(VENV) MAX_EXAMPLES=$(MAX_EXAMPLES) scripts/conformance.sh

## The benchmark (minutes): the mock against a bare Flask app under the same server; writes its report into bench/README.md.
bench: $(VENV)/.bench-installed postgres
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The mock and psycopg, for the benchmark's PostgreSQL part (on a throwaway cluster, as the tests).
$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[mock,postgres]'
	touch $@ $(VENV)/.mock-installed

clean:
	rm -rf $(VENV) build *.egg-info
