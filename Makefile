# dbscale: `make demo` and `make test` are the two commands a fresh clone needs.
#
# Every run of the project's own (tests, demo, lint, bench, synth, the Lambda asset staged from the
# venv) installs the exact versions in requirements/dev.lock, hashes checked: made by `make lock`
# (uv pip compile of pyproject.toml's dependencies and dev extra, for Python 3.10 and newer on every
# platform) and refreshed by `make upgrade`. The package's own dependencies stay ranges for users.
# `make test-latest` runs the suite on the newest releases instead, in a venv of its own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
LOCK := requirements/dev.lock
LOCK_INPUTS := pyproject.toml requirements/build.in
COMPILE = $(UV) pip compile $(LOCK_INPUTS) --extra dev --generate-hashes --universal --python-version 3.10 \
	--quiet --custom-compile-command "make lock" -o $(LOCK)
LATEST_VENV := .venv-latest
PYTEST_ARGS ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_DEFAULT_REGION ?= us-east-1
# Byte-compiled modules are what make the suite's ~40 Python processes start in seconds (moto,
# botocore, aws_cdk, cfn-lint: ~7 s of compiling per process without them): the lock installs them
# compiled, and a PYTHONDONTWRITEBYTECODE inherited from the shell must not stop the rest being cached.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-latest lint bench synth clean audit lock upgrade providers-template

$(PY):
	$(PYTHON) -m venv $(VENV)

# uv itself comes from PyPI through pip, pinned and hashed; it then makes the venv exactly the lock
# (sync removes what the lock does not name) and installs dbscale editable with the locked backend.
$(UV): $(PY) requirements/uv.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/uv.txt
	touch $(UV)

$(STAMP): $(UV) $(LOCK) pyproject.toml
	$(UV) pip sync --quiet --python $(PY) --require-hashes --compile-bytecode $(LOCK)
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The lock, re-resolved from pyproject.toml keeping every pin that still fits (after editing the
# dependencies); `make upgrade` moves every pin to the newest release and runs the suite on it.
lock: $(UV)
	$(COMPILE)

upgrade: $(UV)
	$(COMPILE) --upgrade
	$(UV) pip compile requirements/uv.in --generate-hashes --universal --quiet \
		--custom-compile-command "make upgrade" -o requirements/uv.txt --upgrade
	npm install --no-audit --no-fund --loglevel=error --save-dev --save-exact --package-lock-only aws-cdk@2
	$(MAKE) test synth

# The CDK CLI, from package-lock.json (exact version, integrity hashes; `make upgrade` moves it).
node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.bin/cdk

demo: $(STAMP)
	$(PY) examples/demo.py
	$(PY) examples/demo_cli.py

# The bench scripts' quick-mode checks (marker "bench") run with `make bench`, not here.
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not bench" $(PYTEST_ARGS)

# The suite on the newest releases the registry offers (no lock), in $(LATEST_VENV); not run by CI.
test-latest: $(UV)
	rm -rf $(LATEST_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(LATEST_VENV)
	$(UV) pip install --quiet --python $(LATEST_VENV)/bin/python --upgrade --resolution highest --compile-bytecode \
		-e '.[dev]'
	$(LATEST_VENV)/bin/python -c "from importlib.metadata import version as v; \
		print('test-latest:', ', '.join(f'{p} {v(p)}' for p in ('boto3', 'botocore', 'moto', 'aws-cdk-lib', 'jsii')))"
	$(LATEST_VENV)/bin/python -m pytest -q -n 2 --dist loadfile -m "not bench" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check dbscale
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m pytest -q -m bench
	for b in bench/*.py; do $(PY) $$b || exit 1; done

synth: $(STAMP) node_modules/.bin/cdk
	node_modules/.bin/cdk synth --quiet

# The reference docs (docs/reference/), generated from the constructs' signatures and docstrings and
# the handlers' property schemas; tests/unit/test_reference_docs.py fails when they are out of date.
.PHONY: docs
docs: $(STAMP)
	$(PY) tools/reference_docs.py

clean:
	rm -rf $(VENV) $(LATEST_VENV) cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache audit.out .venv-audit

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

# The providers' template shipped in the package (dbscale/deploy/data/), synthesized from ProvidersStack,
# and the tag autoscaler's the StackSet adds with --autoscale-policies (from TagAutoscaler);
# tests/constructs/test_providers_stack.py and test_tag_autoscaler_template.py fail when one is out of date.
providers-template: $(STAMP)
	$(PY) -m dbscale.constructs.providers_stack
	$(PY) -m dbscale.constructs.tag_autoscaler_template
