# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean lock

# Installs the tested versions pinned in constraints.txt (pyproject.toml keeps
# compatible ranges). Refresh the pins after an upgrade: `make lock`.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/stablesim run

test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_speed.py
	$(BIN)/python benchmarks/bench_loop.py
	$(BIN)/python benchmarks/bench_skip.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_user_solver.py

# Re-resolve the newest versions pyproject.toml allows in a fresh environment and pin them.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[test]"
	.venv-lock/bin/python -m pip freeze --exclude-editable > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache
