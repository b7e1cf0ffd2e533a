# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-peers install clean lock

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
	$(BIN)/python benchmarks/bench_jax_solver.py
	$(BIN)/python benchmarks/bench_stabilize.py
	$(BIN)/python benchmarks/bench_ode_transfer.py
	$(BIN)/python benchmarks/bench_physics_tolerances.py
	$(BIN)/python benchmarks/bench_data.py --gib 1

# stablesim against APEBench 0.1.1, interleaved; APEBench gets its own environment.
# Options through PEERS_ARGS, e.g. make bench-peers PEERS_ARGS="--rounds 3 --batches 20".
APEBENCH_VENV := .venv-apebench
$(APEBENCH_VENV)/.installed: benchmarks/peers/requirements-apebench.txt
	$(PYTHON) -m venv $(APEBENCH_VENV)
	$(APEBENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(APEBENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/requirements-apebench.txt
	touch $@

bench-peers: $(STAMP) $(APEBENCH_VENV)/.installed
	$(BIN)/python benchmarks/peers/bench_peers.py --apebench-python $(APEBENCH_VENV)/bin/python $(PEERS_ARGS)

# Re-resolve the newest versions pyproject.toml allows in a fresh environment and pin them.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[test]"
	.venv-lock/bin/python -m pip freeze --exclude-editable > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) $(APEBENCH_VENV) .pytest_cache
