# Every target makes .venv itself; nothing beyond Python 3.11 and make is assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench bench-large clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fdi-drift demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The loop for a change: no processes, no soak, no real monitoring tools (seconds, not minutes).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not realtools" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check daemon tests
	$(BIN)/ruff format --check daemon tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# What a check costs per task, then every target of the issue measured on 1,000 tasks.
bench: $(STAMP)
	$(BIN)/python -m tests.bench

# The same table at the issue's scale, 10,000 tasks; BENCH_DATA=DIR keeps the generated fleet.
bench-large: $(STAMP)
	$(BIN)/python -m tests.bench --tasks 10000 $(if $(BENCH_DATA),--data $(BENCH_DATA))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
