# Two commands for a new user: `make run` (the whole service locally) and `make test` (everything we check).
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# sam build needs python3.12 on PATH (the Lambda runtime); pyenv provides it on our machines.
export PYENV_VERSION ?= 3.12.1:3.11.7
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install run test bench lint typecheck unit e2e template build deploy deploy-prod clean

help:
	@echo "make run      run the whole service locally (moto AWS + LinkedIn sandbox) on 127.0.0.1:$${PORT:-3000}"
	@echo "make test     lint, type-check and run every test (unit, handlers, end-to-end, template)"
	@echo "make bench    the benchmarks: a table with targets, BENCHMARKS.md and BENCHMARKS.png (about 5 min)"
	@echo "make build    sam build;  make deploy: sam deploy --guided"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	@touch $@

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -r requirements-bench.txt
	@touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m localmode

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: install lint typecheck
	SAM_CLI=$(CURDIR)/$(SAM) $(VENV)/bin/pytest -q

bench: $(VENV)/.bench-installed $(SAM_VENV)/.installed
	PYTHONPATH=$(CURDIR):$(CURDIR)/layers/common $(PY) -m bench

unit: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/unit

e2e: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/e2e

template: install
	SAM_CLI=$(CURDIR)/$(SAM) $(VENV)/bin/pytest -q tests/template

build: $(SAM_VENV)/.installed
	$(SAM) build

deploy: build
	$(SAM) deploy --guided

deploy-prod: build
	$(SAM) deploy --config-env prod

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
