"""examples/quickstart.ipynb run headless with a real Jupyter kernel (nbclient, ipykernel): every cell
runs without an error, and the cells that show clips carry an inline MP4 of the expected frame count.
`make test-image` runs this test in the container as well (tests/image/test_notebooks.py)."""

import base64
import re
import socket
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mjpod import video

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
VIDEO = re.compile(r'<video[^>]*>\s*<source src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', re.S)

pytestmark = pytest.mark.ffmpeg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parameters(**values: object) -> str:
    """The parameters cell's source with `values` in place of its own (as papermill does)."""
    return "\n".join(f"{name} = {value!r}" for name, value in values.items())


def inline_videos(cell: nbformat.NotebookNode) -> list[bytes]:
    """The MP4s a cell shows inline (mediapy.show_video: an HTML <video> with the file as base64)."""
    html = "".join(
        o.get("data", {}).get("text/html", "") for o in cell.outputs if o.output_type == "display_data"
    )
    return [base64.b64decode(data) for data in VIDEO.findall(html)]


def test_quickstart_runs_with_a_real_kernel_and_shows_its_clips(tmp_path, monkeypatch):
    monkeypatch.setenv("MJPOD_WORKSPACE", str(tmp_path / "workspace"))  # where record keeps its MP4
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = parameters(
        MODEL="pendulum", ENGINE="mjc", NWORLD=2, SECONDS=1.0, FPS=10.0, WIDTH=64, HEIGHT=48,
        PORT=free_port(), WEB_PORT=free_port(),
    )  # fmt: skip
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]

    shown = {tag: c for c in nb.cells for tag in c.metadata.get("tags", [])}
    sizes = {"clip": (48, 64), "tiles": (24, 2 * 32), "watched": (48, 64)}  # tiles: two worlds side by side
    for tag, (height, width) in sizes.items():
        (mp4,) = inline_videos(shown[tag])
        path = tmp_path / f"{tag}.mp4"
        path.write_bytes(mp4)
        frames = video.mediapy().read_video(path)
        assert frames.shape == (10, height, width, 3), tag  # SECONDS x FPS frames
    assert list((tmp_path / "workspace" / "videos").glob("pendulum-mjc-*.mp4"))  # record kept the MP4
    assert list((tmp_path / "bench-notebook").glob("bench-*.json"))  # the bench wrote its JSON
