# ioscan — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_output
CONSTRAINTS := constraints.txt
LATEST := .venv-latest

.PHONY: demo test bench lint setup clean test-latest lock

setup: $(STAMP)

# installs come from the pinned constraints file (reproducible); pyproject.toml holds the allowed ranges
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ioscan demo --out $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	@$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# not in CI: the newest versions pyproject.toml allows, in a separate venv, to catch dependency drift early
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e ".[dev]"
	$(LATEST)/bin/python -m pip freeze --exclude-editable | diff $(CONSTRAINTS) - | grep '^[<>]' || true
	$(LATEST)/bin/python -m pytest -q -n 2 --dist loadfile

# rewrite constraints.txt from the newest allowed versions (a deliberate dependency update)
lock:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e ".[dev]"
	{ head -3 $(CONSTRAINTS); echo "pip==$$($(LATEST)/bin/python -m pip --version | cut -d' ' -f2)"; \
	  $(LATEST)/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) $(LATEST) $(DEMO_DIR) bench_output .pytest_cache
