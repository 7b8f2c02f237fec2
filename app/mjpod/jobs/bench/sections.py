"""The bench sections, in run order: each is the module of its name, measured by that module's `run`."""

from __future__ import annotations

from mjpod.errors import SettingError
from mjpod.jobs.bench import batch, contact, encode, physics, record, render, seed, stream
from mjpod.jobs.bench.types import BenchConfig, Section

# name -> the function that measures it and appends its rows to the result; the order is the run order
SECTIONS: dict[str, Section] = {
    module.__name__.rpartition(".")[2]: module.run
    for module in (seed, render, physics, contact, stream, encode, record, batch)
}


def check(config: BenchConfig) -> None:
    """Refuse a --skip or --only that names no section, listing the sections there are."""
    for option, names in (("skip", config.skip), ("only", config.only)):
        unknown = set(names) - set(SECTIONS)
        if unknown:
            raise SettingError(
                f"unknown section(s) to {option}: {', '.join(sorted(unknown))}; sections: {', '.join(SECTIONS)}"
            )
