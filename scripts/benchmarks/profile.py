"""`--profile SCENARIO`: py-spy samples the control plane (and the async workers) while a scenario runs, and writes
a flame graph (SVG) of each, with the frames that took the most samples printed: where the time goes, for anyone to
see before changing a hot path."""

from __future__ import annotations

import collections
import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from launch import Up

from .common import ROOT

OUT = ROOT / "var" / "profiles"
RATE = 250
"""Samples a second (py-spy's default is 100: too few for a 10 s run of short requests)."""


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("bench: --profile needs py-spy (pip install py-spy, in the project's venv)")
    return found


@contextlib.contextmanager
def profiled(platform: Up, scenario: str) -> Iterator[None]:
    """Sample the control plane and the workers' processes while the body runs; then write
    var/profiles/<scenario>-<part>.svg and print each part's top frames (by samples where the frame ran itself)."""
    OUT.mkdir(parents=True, exist_ok=True)
    parts = {"control-plane": platform.child("faas.server")}
    parts |= {f"worker-{i}": pid for i, pid in enumerate(platform.workers()[1:])}
    runs = []
    for part, pid in parts.items():
        if not pid:
            continue
        raw, svg = OUT / f"{scenario}-{part}.txt", OUT / f"{scenario}-{part}.svg"
        # Two samplers of the same process: py-spy writes one format a run (the flame graph to look at, and the
        # collapsed stacks the top frames are counted from).
        procs = [subprocess.Popen([py_spy(), "record", "--pid", str(pid), "--rate", str(RATE), "--format", fmt,
                                   "--output", str(path), "--nonblocking"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for fmt, path in (("raw", raw), ("flamegraph", svg))]
        runs.append((part, procs, raw, svg))
    try:
        yield
    finally:
        for part, procs, raw, svg in runs:
            for proc in procs:
                proc.send_signal(2)  # SIGINT: py-spy writes what it sampled, then exits
            for proc in procs:
                proc.wait(timeout=60)
            if raw.exists():
                _report(part, raw, svg)


def top_frames(raw: Path, count: int = 12) -> tuple[int, list[tuple[str, int]]]:
    """(all samples, the `count` frames with the most samples in which they were the innermost) of collapsed
    stacks (`frame;frame;frame N` lines)."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        total += int(samples)
        own[stack.rsplit(";", 1)[-1]] += int(samples)
    return total, own.most_common(count)


def _report(part: str, raw: Path, svg: Path) -> None:
    total, frames = top_frames(raw)
    where = svg if svg.exists() else raw
    print(f"Profile of the {part} ({total} samples at {RATE}/s): {where}")
    for frame, samples in frames:
        print(f"  {samples * 100 / max(total, 1):5.1f}%  {frame[:150]}")
