"""Traces to replay: per application, its invocations in time order, and the readers of the Azure Functions
public traces.

An application here is what a function version is on the platform: the unit that is loaded in one
container. (Azure loads an application's functions together; its traces count invocations per function,
and the readers merge them per application.)

Readers:
- the 2019 trace (Shahrad et al., ATC '20): per day `invocations_per_function_md.anon.dNN.csv`
  (HashOwner, HashApp, HashFunction, Trigger, then 1440 per-minute counts), optionally
  `function_durations_percentiles.anon.dNN.csv` (HashOwner, HashApp, HashFunction, Average [ms], Count, ...)
  and `app_memory_percentiles.anon.dNN.csv` (HashOwner, HashApp, SampleCount, AverageAllocatedMb, ...). A
  minute's n calls are spread evenly over the minute; counts above `cap_per_minute` are replayed as the cap
  (such an application is warm under any policy).
- the 2021 trace (Zhang et al., SOSP '21): one CSV of `app,func,end_timestamp,duration` in seconds, one row
  per invocation. It carries no memory sizes: every application gets `memory_mb`.
Malformed rows are skipped and counted (`Trace.skipped`), never fatal: a public dataset has them.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MEMORY_CLASSES = (128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)
"""memoryMB values an application's size is rounded up to (what users of the platform pick)."""

DEFAULT_MEMORY_MB = 256
"""memoryMB of an application whose size a trace does not give."""

CAP_PER_MINUTE = 600


def memory_class(mb: float) -> int:
    for size in MEMORY_CLASSES:
        if mb <= size:
            return size
    return MEMORY_CLASSES[-1]


@dataclass(slots=True)
class App:
    """One application's invocations: arrival times (seconds from the trace's start, ascending) and each
    one's execution time."""

    name: str
    memory_mb: int
    arrivals: list[float]
    durations: list[float]
    takes_cells: bool = True
    """False for one that starts from its image only (a custom container): its cold starts cost ~400 ms."""


@dataclass
class Trace:
    """Applications to replay over `seconds` of trace time (apps may be produced lazily)."""

    apps: Iterator[App]
    seconds: float
    source: str
    skipped: dict[str, int] = field(default_factory=dict)
    """Malformed rows skipped, per file."""


def _choose(names: list[str], limit: int | None, seed: int) -> set[str]:
    """`limit` names picked by a seeded hash (all with no limit): the same sample each time."""
    if limit is None or limit >= len(names):
        return set(names)
    key = str(seed).encode()
    return set(sorted(names, key=lambda n: hashlib.blake2b(key + n.encode(), digest_size=8).digest())[:limit])


def _rows(path: Path, skipped: dict[str, int], width: int) -> Iterator[list[str]]:
    """The data rows of a CSV with a header, those with fewer than `width` fields counted as skipped."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if len(row) < width:
                skipped[path.name] = skipped.get(path.name, 0) + 1
                continue
            yield row


def read_azure_2019(directory: Path, days: int | None = None, apps: int | None = None, seed: int = 0,
                    cap_per_minute: int = CAP_PER_MINUTE) -> Trace:
    """The 2019 trace's files in `directory`, day files in order (the first `days` of them), `apps`
    applications sampled by a seeded hash."""
    day_files = sorted(directory.glob("invocations_per_function_md.anon.d*.csv"))[:days]
    if not day_files:
        raise FileNotFoundError(f"no invocations_per_function_md.anon.d*.csv in {directory}")
    skipped: dict[str, int] = {}
    names = sorted({row[1] for row in _rows(day_files[0], skipped, 4)})
    chosen = _choose(names, apps, seed)
    memory = _app_memory(directory, chosen, skipped)
    durations = _function_durations(directory, chosen, skipped)
    counts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)  # app -> (minute, count, function)
    for day, path in enumerate(day_files):
        for row in _rows(path, skipped, 1444):
            if row[1] not in chosen:
                continue
            try:
                per_minute = [int(v) for v in row[4:1444]]
            except ValueError:
                skipped[path.name] = skipped.get(path.name, 0) + 1
                continue
            for minute, n in enumerate(per_minute):
                if n > 0:
                    counts[row[1]].append((day * 1440 + minute, min(n, cap_per_minute), row[2]))

    def produce() -> Iterator[App]:
        for name in sorted(counts):
            arrivals: list[float] = []
            spent: list[float] = []
            for minute, n, function in sorted(counts[name]):
                duration = durations.get((name, function), 1.0)
                for i in range(n):
                    arrivals.append(minute * 60.0 + (i + 0.5) * 60.0 / n)
                    spent.append(duration)
            order = sorted(range(len(arrivals)), key=arrivals.__getitem__)
            yield App(name, memory_class(memory.get(name, DEFAULT_MEMORY_MB)),
                      [arrivals[i] for i in order], [spent[i] for i in order])

    return Trace(produce(), len(day_files) * 86400.0, f"Azure 2019 ({len(day_files)} days, {len(counts)} apps)",
                 skipped)


def _app_memory(directory: Path, chosen: set[str], skipped: dict[str, int]) -> dict[str, float]:
    memory: dict[str, float] = {}
    for path in sorted(directory.glob("app_memory_percentiles.anon.d*.csv")):
        for row in _rows(path, skipped, 4):
            if row[1] in chosen and row[1] not in memory:
                try:
                    memory[row[1]] = float(row[3])
                except ValueError:
                    skipped[path.name] = skipped.get(path.name, 0) + 1
    return memory


def _function_durations(directory: Path, chosen: set[str], skipped: dict[str, int]) -> dict[tuple[str, str], float]:
    durations: dict[tuple[str, str], float] = {}
    for path in sorted(directory.glob("function_durations_percentiles.anon.d*.csv")):
        for row in _rows(path, skipped, 4):
            if row[1] in chosen and (row[1], row[2]) not in durations:
                try:
                    ms = float(row[3])
                except ValueError:
                    skipped[path.name] = skipped.get(path.name, 0) + 1
                    continue
                if ms >= 0:
                    durations[(row[1], row[2])] = ms / 1000.0
    return durations


def read_azure_2021(path: Path, apps: int | None = None, seed: int = 0,
                    memory_mb: int = DEFAULT_MEMORY_MB) -> Trace:
    """The 2021 per-invocation trace: arrival = end_timestamp - duration."""
    skipped: dict[str, int] = {}
    calls: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in _rows(path, skipped, 4):
        try:
            end, duration = float(row[2]), float(row[3])
        except ValueError:
            skipped[path.name] = skipped.get(path.name, 0) + 1
            continue
        if not (duration >= 0 and end - duration >= 0 and end < 1e9):  # NaN, negative or absurd
            skipped[path.name] = skipped.get(path.name, 0) + 1
            continue
        calls[row[0]].append((end - duration, duration))
    chosen = _choose(sorted(calls), apps, seed)
    span = max((a + d for app in chosen for a, d in calls[app]), default=0.0)

    def produce() -> Iterator[App]:
        for name in sorted(chosen):
            ordered = sorted(calls[name])
            yield App(name, memory_class(memory_mb), [a for a, _ in ordered], [d for _, d in ordered])

    return Trace(produce(), span, f"Azure 2021 ({len(chosen)} apps)", skipped)
