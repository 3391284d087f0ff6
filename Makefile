# The project's entry points. `make test` is what CI runs (through .ci/run) and what a developer runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$(PATH)
HELM := .tools/bin/helm
COSIGN := .tools/bin/cosign
CHART := infra/k8s/charts/vibevoice
# helm keeps its cache, config and plugins in the project, not in the user's home.
export HELM_CACHE_HOME := $(CURDIR)/.tools/helm/cache
export HELM_CONFIG_HOME := $(CURDIR)/.tools/helm/config
export HELM_DATA_HOME := $(CURDIR)/.tools/helm/data

.PHONY: help venv test lint format typecheck pytest tools helm-lint
.PHONY: engine base-image images up down smoke image-figures

# Container images (Dockerfile.tts, Dockerfile.agent) and the compose stack (compose.yaml).
TTS_IMAGE ?= vibevoice-tts:dev
AGENT_IMAGE ?= vibevoice-agent:dev
export VIBEVOICE_TTS_IMAGE := $(TTS_IMAGE)
export VIBEVOICE_AGENT_IMAGE := $(AGENT_IMAGE)

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml ci/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -e ci  # the Dagger module; its SDK comes with the dev extra
	touch $@

venv: $(STAMP) ## Create .venv with the project and its dev tools

# The VibeVoice model tests (marker `model`) need the gpu extra and the model code: torch first, then
# the extra, then the PyPI `vibevoice` long-form code without its dependencies (they are its demos'),
# each at the version model-constraints.txt pins for the images too.
# From PyPI, Linux x86_64 torch is the CUDA build (it runs on a CPU all the same): about 4 GB installed,
# torch 1.2 GB and nvidia-* wheels 2.7 GB, 75 s here. Where PyTorch's CPU index is reachable (GitHub's
# runners, most laptops; not this project's own machines), TORCH_INDEX takes the CPU build, without the
# nvidia-* wheels:  make model-deps TORCH_INDEX=https://download.pytorch.org/whl/cpu
.PHONY: model-deps
TORCH_INDEX ?=
MODEL_CONSTRAINTS := model-constraints.txt
MODEL_STAMP := $(VENV)/.installed-model

$(MODEL_STAMP): $(STAMP) $(MODEL_CONSTRAINTS)
	$(BIN)/pip install --quiet --constraint $(MODEL_CONSTRAINTS) torch $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet --constraint $(MODEL_CONSTRAINTS) -e '.[dev,gpu]'
	$(BIN)/pip install --quiet --constraint $(MODEL_CONSTRAINTS) --no-deps vibevoice
	touch $@

model-deps: $(MODEL_STAMP) ## Add torch, the gpu extra and PyPI vibevoice to .venv (~4 GB; TORCH_INDEX= for CPU torch)

test: lint typecheck pytest ## The whole suite: lint, types, tests

# Python: the product, its tests, the pipeline, scripts/ and the chart's helm test script.
PY_SOURCES := src tests ci scripts $(CHART)/files

lint: $(STAMP) ## ruff check, ruff format --check, shellcheck on the shell scripts
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/shellcheck scripts/*.sh .ci/run

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)

typecheck: $(STAMP) ## pyright (strict on ci/, against the dagger-io pinned to dagger.json's engineVersion)
	$(BIN)/pyright
	$(BIN)/pyright -p ci

# A worker per core (pytest-xdist); the container tests share one worker (their xdist_group), and tests
# marked `serial` run alone (tests/support/serial.py).
pytest: $(STAMP) $(HELM) ## pytest, a worker per core (integration tests start real processes on loopback)
	$(BIN)/pytest --numprocesses auto --dist loadgroup

tools: $(HELM) $(COSIGN) ## Fetch helm (npm, seconds) and build cosign (go install: needs Go, minutes) into .tools/bin

# cosign at the pipeline image's version (ci/images/cosign/Dockerfile); the script skips an install that is there.
$(COSIGN): scripts/install-cosign.sh ci/images/cosign/Dockerfile
	scripts/install-cosign.sh
	touch $@

.PHONY: chart-checkers
chart-checkers: ## kube-score, promtool (Go module proxy) and checkov (PyPI, own venv) into .tools for the chart tests
	scripts/install-chart-checkers.sh

$(HELM): scripts/fetch-helm.py
	$(PYTHON) scripts/fetch-helm.py --dest $@

helm-lint: $(HELM) ## helm lint --strict on the chart with its defaults and each ci/*-values.yaml
	$(HELM) lint --strict $(CHART)
	for values in $(CHART)/ci/*-values.yaml; do $(HELM) lint --strict $(CHART) --values "$$values"; done

engine: ## Start the Docker engine if none answers (machines without systemd)
	scripts/start-dockerd.sh

base-image: engine ## python:3.12-slim: the local one, a pulled one, or an offline stand-in (air-gapped mode)
	scripts/base-image.sh

images: base-image ## Build vibevoice-tts:dev (cpu) and vibevoice-agent:dev with BuildKit
	scripts/build-image.sh --file Dockerfile.tts --target cpu --tag $(TTS_IMAGE)
	scripts/build-image.sh --file Dockerfile.agent --target agent --tag $(AGENT_IMAGE)

up: images ## Start the compose stack on 127.0.0.1:8000 (tts) and :8080 (agent); wait until healthy
	scripts/compose.sh up

down: ## Stop and remove the compose stack
	scripts/compose.sh down

smoke: $(STAMP) images ## Compose stack up, vibevoice-smoke against it, down (unless it was up); fails if it fails
	scripts/compose.sh smoke

image-figures: $(STAMP) base-image ## Image sizes, build and rebuild times, time to healthy (a benchmark, not a test)
	scripts/image-figures.sh

.PHONY: bench
BENCH_REQUESTS ?= 200
BENCH_CONCURRENCY ?= 4
bench: $(STAMP) ## Benchmark local processes (TTS espeak HTTP+WS, agent), gate against bench-out/*/baseline.json
	$(BIN)/python scripts/bench-local.py --requests $(BENCH_REQUESTS) --concurrency $(BENCH_CONCURRENCY) --out bench-out
