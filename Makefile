# Sunset: the few targets people expect. Every target installs what it needs on first use.
PYTHON ?= python3
# `make bench SIZES=100` measures one size. (Not $(or $(SIZES),10,100,1000): `or` splits its
# arguments at the commas, so that ran N=10 alone.)
SIZES  ?= 10,100,1000
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# aws-sam-cli pins conflict with moto's, so it lives in a virtual environment of its own.
SAM_VENV  := .venv-sam
SAM       := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed
# The real AWS CLI, for the test that drives `sunset sandbox serve` with it; its botocore pins
# differ from boto3's, so it too lives apart.
AWSCLI_VENV  := .venv-awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed

.PHONY: install demo test faults bench lint validate build deploy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli cfn-lint-serverless
	touch $(SAM_STAMP)

$(AWSCLI_STAMP):
	$(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AWSCLI_VENV)/bin/python -m pip install --quiet awscli
	touch $(AWSCLI_STAMP)

install: $(STAMP)               ## the development environment (.venv)

demo: $(STAMP)                  ## decommission the sample AI service in the sandbox
	$(BIN)/sunset demo

test: $(STAMP) $(AWSCLI_STAMP)  ## unit and sandbox integration tests
	$(BIN)/pytest

faults: $(STAMP)                ## the fault matrix: every AWS call site x every fault (minutes)
	$(BIN)/pytest -m faults tests/faults

bench: $(STAMP)                 ## decommission generated services of N resources; bench/results/latest.json
	$(BIN)/python -m bench.harness --sizes $(SIZES)

lint: $(STAMP)                  ## ruff, mypy, and least privilege in template.yaml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m sunset.local.least_privilege template.yaml target-role.yaml

validate: $(SAM_STAMP)          ## sam validate --lint, cfn-lint and its serverless rules (no account)
	$(SAM) validate --lint --region us-east-1
	$(SAM_VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(SAM_VENV)/bin/cfn-lint -- target-role.yaml

build: $(SAM_STAMP)             ## sam build without Docker (layer: BuildMethod makefile)
	$(SAM) build
	@echo "CommonLayer (runtime dependencies and the sunset package, unpacked):"
	@du -sh .aws-sam/build/CommonLayer | cut -f1
	@ls .aws-sam/build/CommonLayer/python | grep -v -e '-info$$' | tr '\n' ' '; echo
	@find .aws-sam/build/CommonLayer -name '*.cpython-313.pyc' | grep -q . \
		|| echo "note: no Python 3.13 bytecode in the layer: each cold start compiles it (README)"

deploy: build                   ## sam deploy --guided, to the account your AWS profile points at
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(SAM_VENV) $(AWSCLI_VENV) .aws-sam out .pytest_cache .mypy_cache .ruff_cache
