"""mjpod: a GPU rendering and simulation appliance for MuJoCo."""

from importlib import metadata

try:
    __version__ = metadata.version("mjpod")
except metadata.PackageNotFoundError:  # running from a checkout without an install
    __version__ = "0.0.0"
