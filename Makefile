# Two commands matter: `make run` and `make test`. Both set up .venv first when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Console adapter on SQLite unless Slack/Discord are configured; demo papers when the store is empty.
run: $(STAMP)
	$(BIN)/paperboy db upgrade
	$(BIN)/paperboy ingest demo --if-empty
	$(BIN)/paperboy run

# The suite in TEST_WORKERS processes (pytest-xdist): on this 2-core machine 3 keep both cores busy while tests
# wait on sockets and subprocesses. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 3

test: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/paperboy bench startup
	$(BIN)/paperboy bench search --papers 100000
	$(BIN)/paperboy bench relevance
	$(BIN)/paperboy bench delivery

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
