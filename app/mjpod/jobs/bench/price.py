"""What a benchmark figure costs: the hourly price of the GPU it ran on (--price-per-hour, or the
Runpod pod's own price) turned into dollars per unit of work, from the figure's unit alone, so every
section's rows (and new sections') are priced the same way:

    world-steps/s       -> $ per billion world-steps
    <things>/s          -> $ per million <things> (world-frames, frames, ...)
    frames/s of a video -> $ per hour of recorded video (rows that carry the video's frame rate)

Ratios, latencies and sizes have no price.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

from mjpod.errors import MjpodError, SettingError

PER_UNIT = {"world-steps": (1e9, "G")}  # work units priced per billion; every other one per million
RATE = re.compile(r"([a-z][a-z-]*)/s")


@dataclasses.dataclass(frozen=True)
class Price:
    per_hour: float  # dollars per hour of the GPU (or box) the figures ran on
    source: str  # where the figure came from, for the header and the JSON

    def to_json(self) -> dict:
        return {"per_hour": self.per_hour, "currency": "USD", "source": self.source}


def check(per_hour: float | None) -> float | None:
    if per_hour is not None and not (math.isfinite(per_hour) and per_hour > 0):
        raise SettingError(f"--price-per-hour is dollars per hour, above 0; got {per_hour}")
    return per_hour


def resolve(per_hour: float | None) -> tuple[Price | None, str | None]:
    """(the price, a warning): --price-per-hour when given, else this Runpod pod's own price per GPU
    (RUNPOD_POD_ID and the pod-scoped RUNPOD_API_KEY that Runpod sets in every pod), else none."""
    if per_hour is not None:
        return Price(check(per_hour), "--price-per-hour"), None  # type: ignore[arg-type]
    pod_id = os.environ.get("RUNPOD_POD_ID")
    if not pod_id:
        return None, None
    from mjpod.cloud.runpod import Runpod

    try:
        pod = Runpod().pod(pod_id)
    except MjpodError as err:
        return None, f"no prices: looking up this Runpod pod's price failed ({err}); pass --price-per-hour"
    if pod.gpu_price is None:
        return None, f"no prices: Runpod gave pod {pod_id} no costPerHr; pass --price-per-hour"
    gpus = pod.gpu_count or 1
    source = f"Runpod pod {pod_id}: ${pod.cost_per_hr:.3f}/hr" + (
        f" for {gpus} GPUs, per GPU" if gpus > 1 else ""
    )
    return Price(pod.gpu_price, source), None


def cost(
    value: float, unit: str, per_hour: float | None, video_fps: float | None = None
) -> tuple[float, str] | None:
    """(dollars, what they buy) for a figure of `value` `unit` on a GPU at `per_hour`; None: no price."""
    match = RATE.fullmatch(unit)
    if per_hour is None or match is None or not value > 0:
        return None
    dollars_per_second = per_hour / 3600
    if video_fps:  # frames/s of a video: one hour of it is video_fps * 3600 frames
        return dollars_per_second * video_fps * 3600 / value, "video-hour"
    work = match.group(1)
    scale, prefix = PER_UNIT.get(work, (1e6, "M"))
    return dollars_per_second * scale / value, f"{prefix} {work}"


def shown(priced: tuple[float, str] | None) -> str:
    """A cost as a table cell: "$0.0123 /G world-steps"."""
    if priced is None:
        return ""
    dollars, what = priced
    return f"${dollars:.3g} /{what}"
