"""Each figure the project's speed claims are read from, beside its target (docs/gpu-runbook.md).

The targets are about GPUs: mjwarp within 5% of mjwarp-testspeed on the same model, nworld, nstep and
buffers; comfree at least 2x mjwarp on a settled bin pile; batch rendering at 64x64 within 10% of
mjwarp-testspeed --function=render; a rollout with cameras (physics, RGB-D, shards) at 8192 worlds at
least 80% of the batch renderer's render-only figure (on a CPU the ratio is reported); the browser view
slows the simulation by at most 5% with one browser watching. The seed loop and GL rendering have no
target (H100 and H200 have few graphics units): they are reported, as is the largest nworld that fits
the GPU's free memory. A figure is read only from rows of the same run file.
"""

from __future__ import annotations

import dataclasses

from mjpod.jobs.bench.memory import FIT
from mjpod.jobs.bench.seed import SEED_SIZE
from mjpod.jobs.bench.types import SEED_MODEL, BenchResult, Row

TESTSPEED_MIN = 0.95  # mjwarp within 5% of mjwarp-testspeed
COMFREE_MIN = 2.0  # comfree at least 2x mjwarp in dense contact (the authors report about 2x at 4096)
BATCH_MIN = 0.9  # batch render within 10% of mjwarp-testspeed --function=render
ROLLOUT_MIN = 0.8  # a rollout with cameras keeps 80% of the render-only figure (CUDA, 8192 worlds)
ROLLOUT_NWORLD = 8192
BROWSER_MIN = 0.95  # steps/s with one browser watching the browser view, against none: at most 5% slower


@dataclasses.dataclass(frozen=True)
class Verdict:
    claim: str
    model: str
    nworld: int | None
    device: str | None
    figure: str  # the value as read, with what it rests on
    target: str
    met: bool | None  # None: reported without a target, or not measured
    measured: bool = True

    @property
    def verdict(self) -> str:
        if not self.measured:
            return "not measured"
        return {True: "met", False: "MISSED", None: "reported"}[self.met]


def _ratio(claim: str, ours: Row, theirs: Row, minimum: float, target: str) -> Verdict:
    value = ours.value / theirs.value
    figure = f"{value:.3f}x ({ours.value:,.0f} vs {theirs.value:,.0f} {ours.unit})"
    return Verdict(claim, ours.model, ours.nworld, ours.device, figure, target, value >= minimum)


def _rollout(claim: str, full: Row, alone: Row) -> Verdict:
    """The target on CUDA at 8192 worlds; elsewhere the ratio is reported."""
    size = f" at {full.width}x{full.height}"
    if full.nworld == ROLLOUT_NWORLD and (full.device or "").startswith("cuda"):
        verdict = _ratio(claim, full, alone, ROLLOUT_MIN, f">= {ROLLOUT_MIN} of render-only")
        return dataclasses.replace(verdict, figure=verdict.figure + size)
    figure = f"{full.value / alone.value:.3f}x ({full.value:,.0f} vs {alone.value:,.0f} {full.unit}){size}"
    return Verdict(
        claim, full.model, full.nworld, full.device, figure, "report (target: CUDA, 8192 worlds)", None
    )


def _reported(claim: str, row: Row) -> Verdict:
    figure = f"{row.value:,.1f} {row.unit} at {row.width}x{row.height}"
    return Verdict(claim, row.model, row.nworld, row.device, figure, "report (no target)", None)


def read(result: BenchResult) -> list[Verdict]:
    """Every figure in `result` that a target is read from, and a 'not measured' line for a claim
    that has none."""
    rows = result.rows
    height, width = SEED_SIZE
    verdicts: dict[str, list[Verdict]] = {
        "seed loop (mj_step + render)": [
            _reported("seed loop (mj_step + render)", r) for r in rows if r.section == "seed"
        ],
        "render only (GL)": [
            _reported("render only (GL)", r)
            for r in rows
            if r.section == "render" and r.model == SEED_MODEL and (r.height, r.width) == (height, width)
        ],
    }

    claim = "mjwarp vs mjwarp-testspeed"
    testspeed = {(r.model, r.nworld): r for r in rows if r.section == "testspeed"}
    verdicts[claim] = [
        _ratio(claim, r, testspeed[r.model, r.nworld], TESTSPEED_MIN, f">= {TESTSPEED_MIN} (within 5%)")
        for r in rows
        if r.section == "physics" and r.engine == "mjwarp" and (r.model, r.nworld) in testspeed
    ]

    claim = "comfree vs mjwarp, settled pile"
    contact = {
        (r.model, r.nworld, r.engine): r for r in rows if r.section == "contact" and r.unit == "world-steps/s"
    }
    verdicts[claim] = [
        _ratio(claim, r, contact[r.model, r.nworld, "mjwarp"], COMFREE_MIN, f">= {COMFREE_MIN}x")
        for (_, _, engine), r in contact.items()
        if engine == "comfree" and (r.model, r.nworld, "mjwarp") in contact
    ]

    claim = "batch render 64x64 vs testspeed --function=render"
    batch = [r for r in rows if r.section == "batch" and r.unit == "world-frames/s" and r.width == 64]
    theirs = {(r.model, r.nworld): r for r in batch if r.engine == "mjwarp-testspeed"}
    verdicts[claim] = [
        _ratio(claim, r, theirs[r.model, r.nworld], BATCH_MIN, f">= {BATCH_MIN} (within 10%)")
        for r in batch
        if r.engine == "mjwarp" and (r.model, r.nworld) in theirs
    ]

    claim = "worlds that fit in GPU memory"
    verdicts[claim] = [
        Verdict(
            f"{claim} ({r.engine})", r.model, int(r.value), r.device, f"{r.value:,.0f} worlds ({r.note})",
            "report (no target)", None,
        )
        for r in rows
        if r.section == "memory" and r.unit == FIT
    ]  # fmt: skip

    claim = "rollout with cameras vs render-only"
    alone = {
        (r.model, r.nworld, r.width, r.height, r.device): r
        for r in rows
        if r.section == "batch" and r.engine == "mjwarp" and r.unit == "world-frames/s"
    }
    verdicts[claim] = [
        _rollout(claim, r, alone[key])
        for r in rows
        if r.section == "rollout"
        and r.unit == "world-frames/s"
        and (key := (r.model, r.nworld, r.width, r.height, r.device)) in alone
    ]

    claim = "browser view: 1 browser vs none"
    watched = {
        r.model: r for r in rows if r.section == "stream" and r.unit == "steps/s, browser view, 1 browser"
    }
    verdicts[claim] = [
        _ratio(claim, watched[r.model], r, BROWSER_MIN, f">= {BROWSER_MIN} (at most 5% slower)")
        for r in rows
        if r.section == "stream" and r.unit == "steps/s, browser view, 0 browsers" and r.model in watched
    ]

    missing = [
        Verdict(name, "", None, None, _why_absent(result, name), "", None, measured=False)
        for name, found in verdicts.items()
        if not found
    ]
    return [v for found in verdicts.values() for v in found] + missing


ABSENT_BECAUSE = {"worlds that fit in GPU memory": "memory"}  # claim -> the section whose skip says why


def _why_absent(result: BenchResult, claim: str) -> str:
    """The reason a skipped section gave, for a claim read from it (e.g. memory on a CPU)."""
    section = ABSENT_BECAUSE.get(claim)
    return next((s for s in result.skipped if section and s.startswith(f"{section} (")), "")


def markdown(result: BenchResult) -> str:
    """The verdicts as a short markdown table, headed by the hardware and the warnings of the run."""
    where = result.hardware
    gl = result.gl.renderer if result.gl else "not used"
    lines = [
        f"# mjpod bench: figures beside their targets on {where}",
        "",
        f"GL_RENDERER: {gl}; Warp device: {result.warp_device or 'not used'}; written {result.created}.",
        "",
        "| claim | model | nworld | device | figure | target | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in read(result):
        lines.append(
            f"| {v.claim} | {v.model} | {v.nworld or ''} | {v.device or ''} | {v.figure} | {v.target} | {v.verdict} |"
        )
    if result.warnings:
        lines += ["", "Warnings:", *(f"- {w}" for w in result.warnings)]
    if result.skipped:
        lines += ["", "Skipped:", *(f"- {s}" for s in result.skipped)]
    return "\n".join(lines) + "\n"
