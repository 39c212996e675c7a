# Every target sets itself up: a pinned .venv (uv.lock), the JVM jars from Maven Central under
# .local/jars, and SAM CLI and checkov in venvs of their own under .local/venvs. A second run only
# checks the stamps. `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
UV_VERSION := 0.13.8
SAM_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
ASL_VALIDATOR_VERSION := 4.0.0
STAGE ?= dev
# The Lambda runtime (template.yaml Globals) and the interpreter `sam build` needs for it.
LAMBDA_PYTHON := 3.13

LOCAL := .local
BOOT := $(LOCAL)/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
SAM_VENV := $(LOCAL)/venvs/sam
CHECKOV_VENV := $(LOCAL)/venvs/checkov
NODE_TOOLS := $(LOCAL)/node
JARS := $(LOCAL)/jars
# Trino (the local stand-in for Athena): Maven Central serves 476 here, not later; it runs on Java 25.
TRINO_VERSION := 476
TRINO := $(LOCAL)/trino
TRINO_STAMP := $(TRINO)/.stamp-$(TRINO_VERSION)
TRINO_JAVA_HOME ?= $(firstword $(wildcard /usr/lib/jvm/temurin-25-jdk* /usr/lib/jvm/java-25-openjdk*))
DP := $(VENV)/bin/dp
export UV_NATIVE_TLS := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)
export PATH := $(abspath $(VENV))/bin:$(PATH)

# pyenv keeps other interpreters beside the default one; sam build needs python$(LAMBDA_PYTHON).
LAMBDA_PYTHON_BIN := $(firstword $(wildcard $(HOME)/.pyenv/versions/$(LAMBDA_PYTHON)*/bin) $(dir $(shell command -v python$(LAMBDA_PYTHON) 2>/dev/null)))

.PHONY: help setup prereqs demo test lint unit integration sam-build image deploy stack-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

prereqs: ## Check Python 3.11+, JDK 17 and Maven, with a one-line hint for what is missing
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	  || { echo "missing prerequisite: Python 3.11+ as '$(PYTHON)' (install python3.11 or set PYTHON=...)"; exit 1; }
	@java -version 2>&1 | grep -qE 'version "17\.' \
	  || { echo "missing prerequisite: JDK 17 as 'java' on PATH (apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "missing prerequisite: Maven as 'mvn' (apt-get install maven)"; exit 1; }

setup: prereqs $(NODE_TOOLS)/.stamp $(VENV)/.stamp $(JARS)/.stamp $(SAM_VENV)/.stamp $(CHECKOV_VENV)/.stamp $(TRINO_STAMP) ## Install everything (idempotent)

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION)"
	@$(PYTHON) -m venv $(BOOT)
	@$(BOOT)/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.stamp: pyproject.toml uv.lock | $(UV)
	@echo "==> .venv from uv.lock"
	@$(UV) sync --locked --quiet --python $(PYTHON)
	@touch $@

$(JARS)/.stamp: jvm/kafka/pom.xml jvm/spark/pom.xml
	@echo "==> JVM jars from Maven Central into $(JARS)"
	@rm -rf $(JARS)/kafka $(JARS)/spark
	@cd jvm/kafka && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(abspath $(JARS))/kafka
	@cd jvm/spark && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(abspath $(JARS))/spark
	@touch $@

# The 783 MiB tarball is fetched into a Maven repository of its own (not ~/.m2), and only what the
# local stack runs is kept: lib/, bin/ and plugin/iceberg (483 MB). The JDK's path goes beside it.
$(TRINO_STAMP):
	@test -x "$(TRINO_JAVA_HOME)/bin/java" \
	  || { echo "missing prerequisite: a Java 25 JDK for Trino under /usr/lib/jvm (Temurin 25, or set TRINO_JAVA_HOME=...)"; exit 1; }
	@echo "==> Trino server $(TRINO_VERSION) from Maven Central into $(TRINO)/server (lib, bin, plugin/iceberg)"
	@rm -rf $(TRINO)/server $(TRINO)/.stamp-*
	@mvn -q -B -Dstyle.color=never -Dmaven.repo.local=$(abspath $(TRINO))/m2 dependency:get -Dtransitive=false \
	  -Dartifact=io.trino:trino-server:$(TRINO_VERSION):tar.gz
	@rm -rf $(TRINO)/unpacked && mkdir -p $(TRINO)/unpacked $(TRINO)/server/plugin
	@# Whole, then pruned: the tarball hard-links plugin/iceberg's jars to other plugins' copies.
	@tar xzf $(TRINO)/m2/io/trino/trino-server/$(TRINO_VERSION)/trino-server-$(TRINO_VERSION).tar.gz \
	  -C $(TRINO)/unpacked --strip-components=1
	@mv $(TRINO)/unpacked/lib $(TRINO)/unpacked/bin $(TRINO)/server/
	@mv $(TRINO)/unpacked/plugin/iceberg $(TRINO)/server/plugin/
	@rm -rf $(TRINO)/m2 $(TRINO)/unpacked
	@echo "$(TRINO_JAVA_HOME)" > $(TRINO)/server/java-home
	@touch $@

$(SAM_VENV)/.stamp: | $(UV)
	@echo "==> SAM CLI $(SAM_VERSION) in its own venv (it pins boto3)"
	@$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SAM_VENV)
	@$(UV) pip install --quiet --python $(SAM_VENV)/bin/python aws-sam-cli==$(SAM_VERSION)
	@touch $@

$(CHECKOV_VENV)/.stamp: | $(UV)
	@echo "==> checkov $(CHECKOV_VERSION) in its own venv"
	@$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_VENV)
	@$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python checkov==$(CHECKOV_VERSION)
	@touch $@

$(NODE_TOOLS)/.stamp:
	@command -v npm >/dev/null || { echo "missing prerequisite: npm, for the asl-validator (apt-get install npm)"; exit 1; }
	@echo "==> asl-validator $(ASL_VALIDATOR_VERSION) (npm) into $(NODE_TOOLS)"
	@npm install --silent --no-audit --no-fund --prefix $(NODE_TOOLS) asl-validator@$(ASL_VALIDATOR_VERSION)
	@touch $@

demo: setup ## Run the platform locally: stack up, the demo flows, and where to look
	@$(DP) demo

lint: setup ## ruff, ruff format, mypy, asl-validator, cfn-lint, sam validate --lint, checkov
	@echo "==> ruff"; $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	@echo "==> import-linter"; $(VENV)/bin/lint-imports --no-cache
	@echo "==> mypy"; $(VENV)/bin/mypy layers/platform tests $(wildcard functions/*/*.py jobs/*.py streaming/*.py bench/*.py)
	@echo "==> asl-validator"; $(NODE_TOOLS)/node_modules/.bin/asl-validator $(foreach f,$(wildcard statemachines/*.asl.json),--json-path $(f))
	@echo "==> cfn-lint"; $(VENV)/bin/cfn-lint template.yaml
	@echo "==> sam validate --lint"; $(SAM_VENV)/bin/sam validate --lint --region us-east-1 --template template.yaml
	@echo "==> checkov"; $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml

sam-build: setup ## sam build without Docker (python$(LAMBDA_PYTHON) from pyenv)
	@test -n "$(LAMBDA_PYTHON_BIN)" || { echo "missing prerequisite: python$(LAMBDA_PYTHON) for sam build (pyenv install $(LAMBDA_PYTHON))"; exit 1; }
	@PATH="$(LAMBDA_PYTHON_BIN):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml

test: setup lint ## Every test: lint, then pytest (unit and integration, sam build included)
	@echo "==> pytest"
	@SAM_CLI_BIN=$(abspath $(SAM_VENV))/bin/sam LAMBDA_PYTHON_BIN="$(LAMBDA_PYTHON_BIN)" $(VENV)/bin/pytest

unit: setup ## Only the unit tests
	@$(VENV)/bin/pytest -m unit

integration: setup ## Only the integration tests (local stack, Kafka, Spark)
	@SAM_CLI_BIN=$(abspath $(SAM_VENV))/bin/sam LAMBDA_PYTHON_BIN="$(LAMBDA_PYTHON_BIN)" $(VENV)/bin/pytest -m integration

# The api_ingest Batch image; push it to the stack's ApiIngestRepository and deploy with ApiIngestImageTag.
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
image: ## Build the api_ingest Batch image (batch/api_ingest/Dockerfile) with docker
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 \
	  || { echo "missing prerequisite: a running docker (with BuildKit) for make image, the api_ingest Batch image"; exit 1; }
	@DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f batch/api_ingest/Dockerfile -t dataplatform-api-ingest:$(IMAGE_TAG) .

deploy: sam-build ## sam deploy with samconfig's STAGE=dev|prod, then upload the Spark job artifacts
	@case "$(STAGE)" in dev|prod) ;; *) echo "STAGE must be dev or prod"; exit 1;; esac
	@$(SAM_VENV)/bin/sam deploy --config-env $(STAGE)
	@$(DP) deploy-artifacts --stack dataplatform-$(STAGE)

stack-down: ## Stop the local stack (state is kept under .local/)
	@test ! -x $(DP) || $(DP) stack down

clean: stack-down ## Remove build output and the local stack's state (keeps the venvs and jars)
	@rm -rf .aws-sam $(LOCAL)/stack $(LOCAL)/aws $(LOCAL)/kafka
