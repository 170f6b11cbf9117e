# Two entry points (see README): `make demo` runs the end-to-end job, `make test` the checks and tests.
# Each creates .venv on first use and installs the CPU build of torch before anything
# else, so no multi-GB CUDA wheel is ever pulled.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cosim run

# Lint, format check and type check first (config in pyproject.toml), then the suite on two worker
# processes (pytest-xdist; each test file stays on one worker, so its module fixtures are built once).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

clean:
	rm -rf $(VENV) out
