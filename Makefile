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
# the benchmark's results: mjpod bench's own --out default (BenchConfig.out; tests/docker/test_make.py checks)
OUT ?= bench/results

.PHONY: help venv bench bench-local bench-quick record record-local serve serve-local view test test-gpu test-image gpu-check gpu-check-rehearsal lint fmt lock doctor models clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

# System packages (docker/provision.sh ROLE): the first `make bench` or `make test` installs what is
# missing on Debian or Ubuntu (sudo when not root; nothing when all is there). The stamp keeps later
# runs from asking again; `make clean` forgets it.
$(VENV)/.system-%: docker/provision.sh
	bash docker/provision.sh $*
	@mkdir -p $(VENV) && touch $@

# The venv holds the project with every extra but `lab` (JupyterLab: about 95 MB and 45 packages that
# only the appliance's Jupyter server needs), each package at the version requirements.lock pins (the
# lock, which the image installs whole, constrains the install).
VENV_EXTRAS ?= dev,runpod,notebook
$(BIN)/.installed: requirements.lock pyproject.toml | $(VENV)/.system-run
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e ".[$(VENV_EXTRAS)]"
	@touch $@

venv: $(BIN)/.installed  ## create the virtual environment from the lock file

# WHERE=auto runs a job (bench, record, serve) in the image when Docker has it, else in the local
# venv, and says which: $(call dispatch,JOB) runs JOB-container or JOB-local.
define dispatch
+@where=$(WHERE); \
if [ "$$where" = auto ]; then where=local; \
  $(DOCKER) image inspect $(IMAGE_REF) >/dev/null 2>&1 && where=container; fi; \
case "$$where" in \
  container) echo "$(1): in the container, image $(IMAGE_REF) (WHERE=local runs the local venv)";; \
  local) echo "$(1): in the local venv $(VENV) (no Docker engine or no image $(IMAGE_REF); make image builds it)";; \
  *) echo "$(1): WHERE must be auto, local or container, not '$$where'" >&2; exit 2;; \
esac; \
$(MAKE) --no-print-directory $(1)-$$where
endef
# the local jobs run the same scripts as the container, with the venv's mjpod first on PATH
LOCAL_PATH = PATH="$(abspath $(BIN)):$$PATH"

bench:  ## the benchmark -> table, JSON, plot; in the image when Docker has it, else the venv (WHERE=local|container)
	$(call dispatch,bench)

bench-local: venv  ## the benchmark in the local venv
	$(BIN)/mjpod bench --out $(OUT) $(BENCH_ARGS)

bench-quick: venv  ## a CI-sized benchmark run
	$(BIN)/mjpod bench --quick --out $(OUT) $(BENCH_ARGS)

test: venv $(VENV)/.system-test  ## the test suite (CPU: Mesa EGL, Warp on cpu; the container tests are make test-image's)
	$(BIN)/pytest -q

test-gpu: venv  ## the GPU-marked tests (CUDA graphs, NVIDIA EGL)
	$(BIN)/pytest -q -m gpu tests/gpu

# The GPU check (docs/gpu-runbook.md): on the lent GPU machine it runs with python3 and the staging,
# no venv; its files go to GPU_CHECK_OUT (there: $$OUT). The rehearsal runs it here on Warp's cpu
# device, in a Python holding only what the staging provides (as make test does).
GPU_CHECK_OUT ?=
gpu-check:  ## every GPU figure in one command, <= 8 min on an H100 (scripts/gpu-check.sh) -> GPU_CHECK_OUT (build/gpu-check)
	scripts/gpu-check.sh $(GPU_CHECK_OUT)

gpu-check-rehearsal: venv  ## the GPU check on Warp's cpu device, tiny sizes, staged packages only -> build/gpu-check-rehearsal
	rm -rf build/gpu-check-rehearsal
	PYTHON=$$($(BIN)/python scripts/staged_env.py build/staged-python) scripts/gpu-check.sh --rehearse build/gpu-check-rehearsal

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
	uv pip compile -q pyproject.toml --all-extras --universal --python-version 3.11 --no-header \
	  --custom-compile-command "make lock" -o requirements.lock

record:  ## record an MP4 offscreen into ./videos: make record ARGS="--model bin" (image or venv, as bench)
	$(call dispatch,record)

record-local: venv  ## mjpod record in the local venv, into ./videos
	$(LOCAL_PATH) scripts/record.sh $(ARGS)

serve:  ## stream a simulation: 127.0.0.1:7000 (mjpod view), 127.0.0.1:8080 (browser); image or venv, as bench
	$(call dispatch,serve)

serve-local: venv  ## mjpod serve in the local venv (binds 127.0.0.1)
	$(LOCAL_PATH) scripts/stream.sh $(ARGS)

view: venv  ## watch a stream (mujoco viewer; ARGS="--record out.mp4" without a display)
	$(BIN)/mjpod view $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# ---- the appliance image (Docker) and Runpod ----------------------------------------------------
# Every target that runs Docker checks the host first (scripts/check-docker.sh) and says what is
# missing. `make -n TARGET` prints the docker command it would run.
.PHONY: image base-debian bench-container record-container serve-container shell up down ssh push gui runpod-up runpod-down runpod-ssh

DOCKER ?= docker
# the Compose command: Compose v2's plugin, or Debian's docker-compose 1.29 (COMPOSE=docker-compose)
COMPOSE ?= $(DOCKER) compose
IMAGE ?= mjpod
TAG ?= latest
IMAGE_REF = $(IMAGE):$(TAG)
# 13: warp-lang's PyPI wheel (CUDA 13, driver R580+); 12: its +cu12 wheel (driver R525+)
WARP_CUDA ?= 13
# Where the image's parts come from. cuda: nvidia/cuda (Docker Hub), uv's image (ghcr.io), a
# uv-managed CPython and the Panda (GitHub). debian: no image registry at all (CI, air-gapped hosts):
# a Debian base built from Debian's packages, uv from its PyPI wheel, the base's Python, no robot
# fetched (make bench/record/serve mount MENAGERIE_ROOT); GL on Mesa, Warp on the CPU.
BASE ?= cuda
UV_VERSION := $(shell sed -n 's/^ARG UV_VERSION=//p' Dockerfile)
ifeq ($(BASE),debian)
BASE_IMAGE ?= mjpod-base:bookworm
UV_IMAGE ?= mjpod-uv:$(UV_VERSION)
PYTHON_VERSION ?= /usr/bin/python3.11
MENAGERIE_ROBOTS ?=
else ifeq ($(BASE),cuda)
BASE_IMAGE ?= $(if $(filter 12,$(WARP_CUDA)),nvidia/cuda:12.8.1-runtime-ubuntu24.04)
MENAGERIE_ROBOTS ?= franka_emika_panda
else
$(error BASE must be cuda or debian, not '$(BASE)')
endif
# a CA bundle the build trusts (apt, pip, uv), for a TLS-intercepting proxy; passed as a build secret
CA_CERT ?= $(SSL_CERT_FILE)
BUILD_ARGS ?=
# the docker --gpus value; `GPUS=` runs the image without a GPU (Mesa EGL, Warp on cpu)
GPUS ?= all
# a named volume, or an absolute host path, mounted at /workspace (videos, results, Warp's cache)
WORKSPACE ?= mjpod-workspace
# the appliance's SSH port on this host, and the address it is published on: 127.0.0.1 (this machine
# only) unless you set SSH_BIND=0.0.0.0 to reach it from others (keys only)
SSH_PORT ?= 2222
SSH_BIND ?= 127.0.0.1
STREAM_PORT ?= 7000
WEB_PORT ?= 8080
# JupyterLab's port on this host (127.0.0.1); the appliance starts it when JUPYTER_TOKEN is set
JUPYTER_PORT ?= 8888
# arguments passed through to mjpod record / serve / view / runpod (and defined before the jobs use it)
ARGS ?=
WHERE ?= auto
# the public key make up installs (and runpod-up passes); make ssh logs in with its private half
SSH_PUBKEY ?= $(firstword $(wildcard $(HOME)/.ssh/id_ed25519.pub $(HOME)/.ssh/id_ecdsa.pub $(HOME)/.ssh/id_rsa.pub))
SSH_KEY ?= $(wildcard $(SSH_PUBKEY:.pub=))
TTY := $(shell [ -t 0 ] && echo -it)

comma := ,
CHECK_DOCKER = DOCKER=$(DOCKER) COMPOSE="$(COMPOSE)" scripts/check-docker.sh
GPU_CHECK = $(CHECK_DOCKER) $(if $(GPUS),--gpu)
GPU_FLAG = $(if $(GPUS),--gpus $(GPUS))
# the local robot models (MENAGERIE_ROOT), read-only, where the container's mjpod looks for them
MODELS_MOUNT = $(if $(MENAGERIE_ROOT),-v $(abspath $(MENAGERIE_ROOT)):/models:ro -e MENAGERIE_ROOT=/models)
# -it only when make runs on a terminal, so the targets also run from scripts and CI
DOCKER_RUN = $(DOCKER) run --rm $(TTY) $(GPU_FLAG) -v $(WORKSPACE):/workspace $(MODELS_MOUNT)
# compose.gpu.yaml reserves the GPUs; without GPUS the appliance runs on a host that has none
COMPOSE_FILES = -f compose.yaml $(if $(GPUS),-f compose.gpu.yaml)
COMPOSE_ENV = MJPOD_IMAGE=$(IMAGE_REF) MJPOD_SSH_BIND=$(SSH_BIND) MJPOD_SSH_PORT=$(SSH_PORT) \
  MJPOD_STREAM_PORT=$(STREAM_PORT) MJPOD_WEB_PORT=$(WEB_PORT) MJPOD_JUPYTER_PORT=$(JUPYTER_PORT)

image:  ## build the appliance image IMAGE:TAG (BASE=debian: no registry; WARP_CUDA=12: drivers older than R580)
	@$(CHECK_DOCKER) --build
	$(if $(filter debian,$(BASE)),@$(MAKE) --no-print-directory base-debian)
	DOCKER_BUILDKIT=1 $(DOCKER) build -t $(IMAGE_REF) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
	  $(if $(UV_IMAGE),--build-arg UV_IMAGE=$(UV_IMAGE)) $(if $(PYTHON_VERSION),--build-arg PYTHON_VERSION=$(PYTHON_VERSION)) \
	  --build-arg WARP_CUDA=$(WARP_CUDA) --build-arg MENAGERIE_ROBOTS="$(MENAGERIE_ROBOTS)" \
	  $(if $(CA_CERT),--secret id=ca$(comma)src=$(CA_CERT)) $(BUILD_ARGS) .

base-debian: venv  ## BASE=debian's stand-ins: a Debian base image from Debian's packages, uv from PyPI
	@$(CHECK_DOCKER)
	DOCKER=$(DOCKER) scripts/debian-base.sh $(BASE_IMAGE)
	DOCKER=$(DOCKER) PIP=$(abspath $(BIN))/pip scripts/uv-image.sh $(UV_IMAGE) $(UV_VERSION)

# One check before any test (scripts/check-docker.sh --pick), not the same failure in every test: the
# docker CLI that can build (DOCKER, else another on PATH, said) and the compose command that runs.
test-image: venv $(VENV)/.system-docker  ## build the image (BASE=debian) and run the container tests on a real engine (started when none runs)
	@picked="$$($(CHECK_DOCKER) --pick)" && { read -r docker; read -r compose; } <<<"$$picked" && \
	  echo "DOCKER=$$docker COMPOSE=\"$$compose\" $(BIN)/pytest -q -m image tests/image" && \
	  DOCKER="$$docker" COMPOSE="$$compose" $(BIN)/pytest -q -m image tests/image

bench-container:  ## the benchmark in the image; results land in OUT (bench/results)
	@$(GPU_CHECK)
	@mkdir -p $(OUT)
	$(DOCKER_RUN) -v $(abspath $(OUT)):/workspace/results $(IMAGE_REF) scripts/bench.sh $(BENCH_ARGS)

record-container:  ## mjpod record in the image, into ./videos
	@$(GPU_CHECK)
	@mkdir -p videos
	$(DOCKER_RUN) -v $(CURDIR)/videos:/workspace/videos $(IMAGE_REF) scripts/record.sh $(ARGS)

serve-container:  ## mjpod serve in the image, ports published on 127.0.0.1 only
	@$(GPU_CHECK)
	$(DOCKER_RUN) -p 127.0.0.1:$(STREAM_PORT):7000 -p 127.0.0.1:$(WEB_PORT):8080 $(IMAGE_REF) scripts/stream.sh $(ARGS)

shell:  ## a bash shell in the image (GPU, the workspace volume, the local models)
	@$(GPU_CHECK)
	$(DOCKER) run --rm -it $(GPU_FLAG) -v $(WORKSPACE):/workspace $(MODELS_MOUNT) $(IMAGE_REF) bash

up:  ## start the appliance (compose) with your ~/.ssh public key: sshd on SSH_BIND:SSH_PORT (127.0.0.1:2222)
	@$(GPU_CHECK) --compose
	@test -n "$${PUBLIC_KEY:-}$(SSH_PUBKEY)" || { echo "mjpod: no SSH public key in ~/.ssh: create one with ssh-keygen -t ed25519, or set PUBLIC_KEY or SSH_PUBKEY" >&2; exit 1; }
	PUBLIC_KEY="$${PUBLIC_KEY:-$$(cat $(SSH_PUBKEY))}" $(COMPOSE_ENV) $(COMPOSE) $(COMPOSE_FILES) up -d appliance
	@echo "ssh: make ssh   VS Code: Remote-SSH to root@$(SSH_HOST) port $(SSH_PORT)"

down:  ## stop the appliance (the workspace volume stays)
	@$(CHECK_DOCKER) --compose
	$(COMPOSE_ENV) $(COMPOSE) $(COMPOSE_FILES) down

# No -L for the stream and web ports: compose already publishes them on 127.0.0.1, so a forward of
# the same ports cannot bind (and is not needed: mjpod serve in the appliance listens where they arrive).
SSH_HOST = $(if $(filter 0.0.0.0 ::,$(SSH_BIND)),127.0.0.1,$(SSH_BIND))
# SSH_OPTS: more ssh options; ARGS: a command to run there instead of a shell
SSH_OPTS ?=
ssh:  ## ssh into the appliance started with make up, with SSH_PUBKEY's private key (stream and web: 127.0.0.1:STREAM_PORT, WEB_PORT)
	ssh -p $(SSH_PORT) $(if $(SSH_KEY),-i $(SSH_KEY) -o IdentitiesOnly=yes) -o HostKeyAlias=mjpod-local $(SSH_OPTS) root@$(SSH_HOST) $(ARGS)

push:  ## push IMAGE:TAG to its registry: make push IMAGE=docker.io/you/mjpod TAG=0.1
	@case "$(IMAGE)" in */*) ;; *) echo "mjpod: IMAGE=$(IMAGE) names no registry or account: docker push would try docker.io/library/$(IMAGE). Use e.g. IMAGE=docker.io/<you>/mjpod or ghcr.io/<you>/mjpod" >&2; exit 2;; esac
	@$(CHECK_DOCKER)
	$(DOCKER) push $(IMAGE_REF)

# the model `make gui` simulates (mjpod view --local MODEL); ARGS adds view options (--engine mjwarp)
GUI_MODEL ?= bin
# make gui's key to the X display (scripts/x11-access.sh): your cookie for DISPLAY, readable by you only
GUI_XAUTH ?= $(or $(XDG_RUNTIME_DIR),$(HOME))/.mjpod-gui.xauth
gui:  ## the image on this machine's X display: mjpod view --local GUI_MODEL (bin) in a window
	@case "$(DISPLAY)" in \
	  :* | unix:*) ;; \
	  "") echo "mjpod: DISPLAY is not set: run make gui from a desktop session (headless? the browser view: make serve, or mjpod view on your laptop)" >&2; exit 2;; \
	  *) echo "mjpod: make gui draws on this machine's own X server (DISPLAY=:N), not on DISPLAY=$(DISPLAY) (ssh -X): on a remote box run make serve there and mjpod view on your laptop, or open the browser view (README, Viewer windows)" >&2; exit 2;; \
	esac
	@$(GPU_CHECK)
	@DISPLAY=$(DISPLAY) scripts/x11-access.sh "$(GUI_XAUTH)"
	$(DOCKER) run --rm $(TTY) $(GPU_FLAG) -e DISPLAY=$(DISPLAY) -e MUJOCO_GL=glfw -e PYOPENGL_PLATFORM= \
	  -v /tmp/.X11-unix:/tmp/.X11-unix:ro -v "$(GUI_XAUTH)":/tmp/.mjpod-gui.xauth:ro -e XAUTHORITY=/tmp/.mjpod-gui.xauth \
	  $(if $(wildcard /dev/dri),--device /dev/dri) \
	  -v $(WORKSPACE):/workspace $(MODELS_MOUNT) $(IMAGE_REF) mjpod view --local "$(GUI_MODEL)" $(ARGS)

RUNPOD_GPU ?= NVIDIA GeForce RTX 4090
RUNPOD_CLOUD ?= SECURE
RUNPOD_DISK ?= 40
RUNPOD_VOLUME ?= 20
RUNPOD_NAME ?= mjpod

runpod-up: venv  ## a Runpod GPU pod from IMAGE:TAG (push it first; needs RUNPOD_API_KEY)
	$(BIN)/mjpod runpod up --image $(IMAGE_REF) --gpu "$(RUNPOD_GPU)" --cloud $(RUNPOD_CLOUD) \
	  --disk $(RUNPOD_DISK) --volume $(RUNPOD_VOLUME) --name $(RUNPOD_NAME) --warp-cuda $(WARP_CUDA) \
	  $(if $(SSH_PUBKEY),--key $(SSH_PUBKEY)) $(ARGS)

runpod-down: venv  ## terminate the Runpod pod (ARGS=--stop only stops it, keeping its volume)
	$(BIN)/mjpod runpod down --name $(RUNPOD_NAME) $(ARGS)

runpod-ssh: venv  ## ssh into the Runpod pod (also prints the ~/.ssh/config entry for VS Code)
	$(BIN)/mjpod runpod ssh --name $(RUNPOD_NAME) --exec $(if $(SSH_PUBKEY),--key $(SSH_PUBKEY)) $(ARGS)
