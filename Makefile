# dbscale: `make demo` and `make test` are the two commands a fresh clone needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CDK_VERSION := 2.1148.0
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: demo test lint bench synth clean audit

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.bin/cdk:
	npm install --no-save --no-audit --no-fund --loglevel=error aws-cdk@$(CDK_VERSION)

demo: $(STAMP)
	$(PY) examples/demo.py
	$(PY) examples/demo_cli.py

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check dbscale
	$(VENV)/bin/mypy

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

synth: $(STAMP) node_modules/.bin/cdk
	node_modules/.bin/cdk synth --quiet

clean:
	rm -rf $(VENV) cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache audit.out .venv-audit

# `make audit`: what the custom resources make, seen by the linters (docs/audit.md). The example
# app is synthesized to cdk.out, the handlers' calls for its clusters are rendered as native
# templates in $(AUDIT_DIR)/native, and checkov runs over both. checkov pins its own boto3/botocore
# and would downgrade the project's, so it gets a virtualenv of its own (never installed by CI);
# --skip-download: no calls to Prisma Cloud for guidelines (offline, and nothing leaves the machine).
AUDIT_DIR := audit.out
AUDIT_VENV := .venv-audit
CHECKOV := $(AUDIT_VENV)/bin/checkov
CHECKOV_ARGS := --framework cloudformation --compact --soft-fail --skip-download -o json

$(CHECKOV):
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet checkov

audit: $(STAMP) node_modules/.bin/cdk $(CHECKOV)
	node_modules/.bin/cdk synth --quiet
	rm -rf $(AUDIT_DIR) && mkdir -p $(AUDIT_DIR)/checkov
	$(PY) -m tests.audit.render $(AUDIT_DIR)/native cdk.out
	$(PY) -m tests.audit.lint $(AUDIT_DIR)/native
	$(CHECKOV) $(CHECKOV_ARGS) -d cdk.out > $(AUDIT_DIR)/checkov/cdk.out.json
	$(CHECKOV) $(CHECKOV_ARGS) -d $(AUDIT_DIR)/native > $(AUDIT_DIR)/checkov/native.json
	$(PY) -m tests.audit.checkov_summary cdk.out=$(AUDIT_DIR)/checkov/cdk.out.json \
		rendered=$(AUDIT_DIR)/checkov/native.json
