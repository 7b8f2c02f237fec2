# syntax=docker/dockerfile:1.7
# mjpod appliance: MuJoCo rendering with EGL on the NVIDIA driver, the Warp engines, and sshd for
# VS Code Remote-SSH, in one image. `make image`; see README.md (The appliance image).
#
# BASE_IMAGE: an nvidia/cuda runtime image, made GL-capable below, so no cudagl build is needed;
#   a cudagl image works as well (the Python comes from uv, not from the base).
# WARP_CUDA: 13 installs warp-lang from the lock (PyPI wheels since 1.18 are CUDA 13: driver R580+);
#   12 swaps in the same version's +cu12 wheel from NVIDIA's GitHub releases (driver R525+), for
#   cloud hosts with older drivers. `mjpod doctor` says which one a host needs.
# MENAGERIE_ROBOTS: Menagerie robots fetched at build time so `make bench` needs no network at run
#   time; empty turns it off (robots then download on first use).
ARG BASE_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04
ARG UV_VERSION=0.13.8

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM ${BASE_IMAGE} AS appliance
ARG WARP_CUDA=13
ARG MENAGERIE_ROBOTS=franka_emika_panda
ARG PYTHON_VERSION=3.11
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

LABEL org.opencontainers.image.title="mjpod" \
      org.opencontainers.image.description="MuJoCo GPU rendering and simulation appliance: EGL on the NVIDIA driver, mujoco_warp engines, sshd" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      io.mjpod.warp-cuda="${WARP_CUDA}" \
      io.mjpod.ports="22/tcp ssh, 7000/tcp stream, 8080/tcp web view"

# Graphics for EGL/GL rendering and video for NVENC, besides compute: without `graphics` the NVIDIA
# Container Toolkit mounts no EGL driver and MuJoCo falls back to software or fails.
# NVIDIA_DISABLE_REQUIRE: start even on a driver older than the base image's CUDA, so that
# `mjpod doctor` can name the problem instead of the toolkit refusing with "unsatisfied condition".
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics,video \
    NVIDIA_DISABLE_REQUIRE=1 \
    MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl \
    MJPOD_IN_CONTAINER=1 \
    MJPOD_WORKSPACE=/workspace \
    WARP_CACHE_PATH=/workspace/.cache/warp \
    MENAGERIE_CACHE_DIR=/opt/mjpod/menagerie \
    VIRTUAL_ENV=/opt/mjpod/.venv \
    PATH=/opt/mjpod/.venv/bin:${PATH} \
    UV_PYTHON_INSTALL_DIR=/opt/mjpod/python \
    UV_PYTHON_PREFERENCE=only-managed \
    UV_LINK_MODE=copy \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

# System packages through the script CI runs. The host keys the openssh-server package generated
# are removed: the entrypoint makes new ones in every container.
COPY docker/provision.sh /opt/mjpod/docker/provision.sh
RUN bash /opt/mjpod/docker/provision.sh \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /etc/ssh/ssh_host_*

# glvnd's NVIDIA EGL vendor file, for hosts whose toolkit does not mount one; the profile hook
# gives login shells the container's environment back.
COPY docker/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json
COPY docker/profile.sh /etc/profile.d/mjpod.sh

# Python from the project's lock, in a uv-managed CPython (the version CI tests), so the base
# image's own Python does not matter.
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /opt/mjpod
COPY requirements.lock pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv venv --python "${PYTHON_VERSION}" "${VIRTUAL_ENV}" \
    && uv pip install -r requirements.lock
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "${WARP_CUDA}" = 12 ]; then \
      v="$(sed -n 's/^warp-lang==\([0-9.]*\).*/\1/p' requirements.lock)"; \
      uv pip install --no-deps --reinstall \
        "https://github.com/NVIDIA/warp/releases/download/v${v}/warp_lang-${v}+cu12-py3-none-manylinux_2_28_$(uname -m).whl"; \
    elif [ "${WARP_CUDA}" != 13 ]; then \
      echo "WARP_CUDA must be 12 or 13, not '${WARP_CUDA}'" >&2; exit 1; \
    fi

# Menagerie robots at the commit the locked mujoco_menagerie package pins, digests checked.
RUN echo "${MENAGERIE_ROBOTS}" | xargs --no-run-if-empty mujoco-menagerie prefetch

# The project itself, editable: developing in the container (VS Code) edits what runs.
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --no-deps -e . \
    && touch "${VIRTUAL_ENV}/.installed" \
    && mkdir -p /etc/mjpod /workspace \
    && mjpod --help >/dev/null

EXPOSE 22 7000 8080
VOLUME ["/workspace"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/opt/mjpod/docker/healthcheck.sh"]
ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/opt/mjpod/docker/entrypoint.sh"]
CMD []
