# The project's entry points. `make test` is what CI runs (through .ci/run) and what a developer runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$(PATH)

.PHONY: help venv test lint format typecheck pytest

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP) ## Create .venv with the project and its dev tools

test: lint typecheck pytest ## The whole suite: lint, types, tests

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

typecheck: $(STAMP) ## pyright
	$(BIN)/pyright

pytest: $(STAMP) ## pytest (integration tests start real processes on loopback)
	$(BIN)/pytest
