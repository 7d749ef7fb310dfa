# adlwatch: every target creates the virtualenv on first use.
# The newest python3.x (x >= 11) on the PATH that runs (a pyenv shim of a version not selected does
# not); `make PYTHON=/path/to/python` picks another.
PYTHON ?= $(or $(firstword $(foreach v,20 19 18 17 16 15 14 13 12 11,$(shell python3.$(v) -c 'print("python3.$(v)")' 2>/dev/null))),python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test demo bench lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need Python 3.11 or newer on PATH (or make PYTHON=...)"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "$(PYTHON) is older than 3.11: make PYTHON=python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/adlwatch demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check adlwatch engine feeds tui tests benchmarks setup.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
