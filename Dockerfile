# mjpod appliance: MuJoCo rendering with EGL on the NVIDIA driver, the Warp engines, and sshd for
# VS Code Remote-SSH, in one image. `make image`; see README.md (The appliance image).
# BuildKit builds it (RUN --mount): docker buildx, or a docker CLI older than 23 with DOCKER_BUILDKIT=1.
#
# Build args choose where everything comes from; none is pulled from a registry the caller did not name.
# BASE_IMAGE: an nvidia/cuda runtime image, made GL-capable below, so no cudagl build is needed;
#   a cudagl image works as well. Without a registry, a Debian base made from Debian's packages
#   (`make image BASE=debian`: scripts/debian-base.sh) stands in.
# UV_IMAGE: an image holding /uv (Astral's, by default); `make image BASE=debian` imports one made
#   from the uv wheel on PyPI (scripts/uv-image.sh).
# PYTHON_VERSION: a version, for a uv-managed CPython (downloaded by uv), or an interpreter's path
#   such as /usr/bin/python3.11 (the base's own Python).
# WARP_CUDA: 13 installs warp-lang from the lock (PyPI wheels since 1.18 are CUDA 13: driver R580+);
#   12 swaps in the same version's +cu12 wheel from NVIDIA's GitHub releases (driver R525+), for
#   cloud hosts with older drivers. `mjpod doctor` says which one a host needs.
# MENAGERIE_ROBOTS: Menagerie robots fetched (from GitHub) at build time so `make bench` needs no
#   network at run time; empty turns it off (robots then come from a mounted MENAGERIE_ROOT, or
#   download on first use).
# UV_DEFAULT_INDEX: a Python package index other than PyPI (a company mirror).
# The secret `ca` (`make image CA_CERT=…`): a CA that apt, pip and uv trust during the build, for a
#   TLS-intercepting proxy; docker/with-ca.sh applies it, and it never enters the image.
ARG BASE_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04
ARG UV_VERSION=0.13.8
ARG UV_IMAGE=ghcr.io/astral-sh/uv:${UV_VERSION}

FROM ${UV_IMAGE} AS uv

FROM ${BASE_IMAGE} AS appliance
ARG WARP_CUDA=13
ARG MENAGERIE_ROBOTS=franka_emika_panda
ARG PYTHON_VERSION=3.11
ARG UV_DEFAULT_INDEX
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

LABEL org.opencontainers.image.title="mjpod" \
      org.opencontainers.image.description="MuJoCo GPU rendering and simulation appliance: EGL on the NVIDIA driver, mujoco_warp engines, sshd" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      io.mjpod.warp-cuda="${WARP_CUDA}" \
      io.mjpod.ports="22/tcp ssh, 7000/tcp stream, 8080/tcp web view, 8888/tcp jupyterlab"

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

# System packages through the script `make bench` and `make test` run on hosts; apt's downloads and
# lists stay in build caches, out of the image. The host keys the openssh-server package generated
# are removed: the entrypoint makes new ones in every container.
COPY docker/provision.sh docker/with-ca.sh /opt/mjpod/docker/
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && /opt/mjpod/docker/with-ca.sh bash /opt/mjpod/docker/provision.sh image \
    && rm -f /etc/ssh/ssh_host_*

# glvnd's NVIDIA EGL vendor file, for hosts whose toolkit does not mount one; the profile hook
# gives login shells the container's environment back.
COPY docker/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json
COPY docker/profile.sh /etc/profile.d/mjpod.sh

# Python from the project's lock (the Python version CI tests), with uv's download cache outside the image.
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /opt/mjpod
COPY requirements.lock ./
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/uv \
    docker/with-ca.sh uv venv --python "${PYTHON_VERSION}" "${VIRTUAL_ENV}" \
    && docker/with-ca.sh uv pip install -r requirements.lock
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/uv \
    if [ "${WARP_CUDA}" = 12 ]; then \
      v="$(sed -n 's/^warp-lang==\([0-9.]*\).*/\1/p' requirements.lock)"; \
      docker/with-ca.sh uv pip install --no-deps --reinstall \
        "https://github.com/NVIDIA/warp/releases/download/v${v}/warp_lang-${v}+cu12-py3-none-manylinux_2_28_$(uname -m).whl"; \
    elif [ "${WARP_CUDA}" != 13 ]; then \
      echo "WARP_CUDA must be 12 or 13, not '${WARP_CUDA}'" >&2; exit 1; \
    fi

# Menagerie robots at the commit the locked mujoco_menagerie package pins, digests checked.
RUN --mount=type=secret,id=ca \
    echo "${MENAGERIE_ROBOTS}" | xargs --no-run-if-empty docker/with-ca.sh mujoco-menagerie prefetch

# The project itself, editable: developing in the container (VS Code) edits what runs. The venv's
# Jupyter kernel, registered as "mjpod", is what notebooks opened over Remote-SSH (VS Code) and
# JupyterLab (the entrypoint starts it when JUPYTER_TOKEN or JUPYTER_PASSWORD is set) run in.
COPY . .
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/uv \
    docker/with-ca.sh uv pip install --no-deps -e . \
    && touch "${VIRTUAL_ENV}/.installed" "${VIRTUAL_ENV}/.system-run" \
    && mkdir -p /etc/mjpod /workspace \
    && python -m ipykernel install --prefix /usr/local --name mjpod --display-name "mjpod (/opt/mjpod/.venv)" \
    && mjpod --help >/dev/null

EXPOSE 22 7000 8080 8888
VOLUME ["/workspace"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/opt/mjpod/docker/healthcheck.sh"]
ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/opt/mjpod/docker/entrypoint.sh"]
CMD []
