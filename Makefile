# mjpod: one Makefile for local use (a venv, no Docker) and, later, the container.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Offline robot models: the shared Menagerie-layout folder beside this checkout, when there is one.
MENAGERIE_ROOT ?= $(wildcard $(abspath ../shared/models))
export MENAGERIE_ROOT
export MUJOCO_GL ?= egl
BENCH_ARGS ?=
OUT ?= bench/results

.PHONY: help venv bench bench-quick test test-gpu lint fmt lock doctor models clean serve view

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

venv: $(BIN)/.installed  ## create the virtual environment from the lock file

bench: venv  ## the benchmark: seed loop, GL render, physics sweep -> table, JSON, plot
	$(BIN)/mjpod bench --out $(OUT) $(BENCH_ARGS)

bench-quick: venv  ## a CI-sized benchmark run
	$(BIN)/mjpod bench --quick --out $(OUT) $(BENCH_ARGS)

test: venv  ## the test suite (CPU: Mesa EGL, Warp on cpu)
	$(BIN)/pytest -q

test-gpu: venv  ## the GPU-marked tests (CUDA graphs, NVIDIA EGL)
	$(BIN)/pytest -q -m gpu tests/gpu

lint: venv  ## ruff
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests

fmt: venv  ## ruff format + fixes
	$(BIN)/ruff format app tests
	$(BIN)/ruff check --fix app tests

doctor: venv  ## check this box and name fixes
	$(BIN)/mjpod doctor

models: venv  ## list loadable models
	$(BIN)/mjpod models

lock:  ## re-pin requirements.lock from pyproject.toml (needs uv)
	uv pip compile -q pyproject.toml --extra dev --universal --python-version 3.11 --no-header \
	  --custom-compile-command "make lock" -o requirements.lock

SERVE_ARGS ?= --web 8080
VIEW_ARGS ?=
serve: venv  ## stream a headless simulation (TCP 7000 + browser 8080 on 127.0.0.1); SERVE_ARGS=...
	scripts/stream.sh $(SERVE_ARGS)

view: venv  ## watch a stream (mujoco viewer; VIEW_ARGS="--record out.mp4" without a display)
	$(BIN)/mjpod view $(VIEW_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
