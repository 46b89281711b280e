# Two commands for a new user: `make run` (the whole service locally) and `make test` (everything we check).
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# sam build needs python3.12 on PATH (the Lambda runtime); pyenv provides it on our machines.
export PYENV_VERSION ?= 3.12.1:3.11.7
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install run test check bench lint typecheck security unit e2e screenshots template build deploy deploy-prod clean

help:
	@echo "make run      run the whole service locally (moto AWS + LinkedIn sandbox) on 127.0.0.1:$${PORT:-3000}"
	@echo "make test     lint, type-check, checkov and run every test (unit, handlers, end-to-end, template)"
	@echo "make check    the fast loop: lint, import contracts, type-check and the unit tests (under a minute)"
	@echo "make screenshots  the console's screenshots in docs/console/ (headless Chromium)"
	@echo "make security checkov on template.yaml (least privilege, encryption; skips in .checkov.yaml)"
	@echo "make bench    the benchmarks: a table with targets, BENCHMARKS.md and BENCHMARKS.png (about 30 min on 2 cores)"
	@echo "make build    sam build;  make deploy: sam deploy --guided"
	@echo "operator CLI  .venv/bin/audience-sync --help (status, metrics, DLQ redrive; --local for make run)"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	# the operator CLI, .venv/bin/audience-sync (editable: it runs this checkout's code)
	$(VENV)/bin/pip install --quiet -e .
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	@touch $@

# checkov pins its own dependencies (boto3, PyYAML, ...), which conflict with requirements-dev.txt.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	@touch $@

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -r requirements-bench.txt
	@touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m localmode

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	# the packages' dependencies point one way (pyproject.toml, [tool.importlinter]); this checkout's package first
	PYTHONPATH=$(CURDIR)/layers/common $(VENV)/bin/lint-imports --no-cache

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# Offline but for PyPI: --skip-download keeps checkov from fetching guidelines and external checks.
security: $(CHECKOV_VENV)/.installed
	$(CHECKOV) --directory . --framework cloudformation --config-file .checkov.yaml --skip-download --skip-path .aws-sam --compact --quiet

# Two workers (pytest-xdist): the end-to-end tests one at a time on one, the other modules beside them
# (tests/conftest.py, pytest_xdist_make_scheduler). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: install lint typecheck security
	SAM_CLI=$(CURDIR)/$(SAM) CHECKOV=$(CURDIR)/$(CHECKOV) $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --no-loadscope-reorder

bench: $(VENV)/.bench-installed $(SAM_VENV)/.installed
	PYTHONPATH=$(CURDIR):$(CURDIR)/layers/common $(PY) -m bench

unit: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/unit

# The fast loop while coding: everything but the integration, end-to-end and template tests and checkov.
check: lint typecheck unit

e2e: $(VENV)/.installed
	$(VENV)/bin/pytest -q tests/e2e

# The console's screenshots in docs/console/, taken by its browser test (needs chromium-headless-shell).
screenshots: $(VENV)/.installed
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console CONSOLE_BROWSER_REQUIRED=1 $(VENV)/bin/pytest -q tests/e2e/test_console.py

template: install
	SAM_CLI=$(CURDIR)/$(SAM) CHECKOV=$(CURDIR)/$(CHECKOV) $(VENV)/bin/pytest -q tests/template

build: $(SAM_VENV)/.installed
	$(SAM) build

deploy: build
	$(SAM) deploy --guided

deploy-prod: build
	$(SAM) deploy --config-env prod

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
