"""Replay a trace through keep-alive policies in simulated time: the real decision code, no Docker.

Each application is one container, loaded or not (the model of Shahrad et al.): a call that arrives while
it is loaded is warm, and so is one that arrives while an earlier call still runs; any other call is a cold
start. After each call the application's policy decides when the container is loaded until the next one
(`Decision`): at once until `keep_alive_s`, or from `prewarm_s` (a pre-warm) until `keep_alive_s`. A call
that comes before its pre-warm is a cold start, and the pre-warm does not happen.

Wasted memory-time is memoryMB x seconds loaded but not running a call: warm containers waiting, pre-warmed
ones (those that served nothing included) and ready cells. Applications are independent, so each is replayed
through every policy in turn and dropped; the cold starts that could take a cell then go through a second
pass per memory class (`cells.py`), which tells cell cold starts from image ones and adds the ready cells'
memory.

Every figure is kept twice: over the whole trace and over its last days (`Window`), where policies that
learn online have learned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..pool.keepalive import Decision, KeepAlivePolicy
from .trace import App, Trace

PolicyFactory = Callable[[App], KeepAlivePolicy]


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of trace time figures are kept for."""

    name: str
    start: float
    end: float

    def overlap(self, a: float, b: float) -> float:
        return max(0.0, min(b, self.end) - max(a, self.start))


@dataclass
class Tally:
    """One policy's figures over one window."""

    invocations: int = 0
    cold: int = 0
    waste_mb_s: float = 0.0
    prewarms: int = 0
    prewarms_used: int = 0
    app_shares: list[float] = field(default_factory=list)
    """Per application with calls in the window: its share of cold starts."""


@dataclass
class PolicyRun:
    name: str
    tallies: dict[str, Tally]
    cold_times: dict[int, list[float]] = field(default_factory=dict)
    """Per memory class, the times of cold starts that may take a cell, for the cell pass."""
    seconds: float = 0.0
    """Wall time spent replaying."""
    cells: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Per window: (cold starts served by a cell, ready cells' idle MB-seconds), set by the cell pass."""


def replay_app(app: App, policy: KeepAlivePolicy, windows: Iterable[Window], end: float,
               cold_times: list[float] | None, prewarm_cell_s: float = 0.0) -> list[tuple[int, int, float, int, int]]:
    """Replay one application: per window (invocations, cold starts, wasted MB-s, pre-warms, pre-warms that
    served a call). Cold start times are appended to `cold_times` when given. A pre-warm counts in the window
    where it starts, and holds a cell for `prewarm_cell_s` before it (the cell kept ready for it)."""
    windows = list(windows)
    stats = [[0, 0, 0.0, 0, 0] for _ in windows]
    mb = app.memory_mb
    busy_until = -1.0
    decision: Decision | None = None

    def loaded(a: float, b: float) -> None:
        if b > a:
            for w, s in zip(windows, stats):
                s[2] += mb * w.overlap(a, b)

    def call(t: float, cold: bool) -> None:
        for w, s in zip(windows, stats):
            if w.start <= t < w.end:
                s[0] += 1
                s[1] += cold

    def prewarm(start: float, used: bool) -> None:
        loaded(start - prewarm_cell_s, start)
        for w, s in zip(windows, stats):
            if w.start <= start < w.end:
                s[3] += 1
                s[4] += used

    observe, decide = policy.observe, policy.decide
    for t, d in zip(app.arrivals, app.durations):
        if t < busy_until:  # a call is still running: this one is warm, and nothing was idle
            call(t, False)
            if t + d > busy_until:
                busy_until = t + d
            continue
        cold = True
        if decision is not None:
            observe(t - busy_until)
            start = busy_until + decision.prewarm_s
            stop = busy_until + decision.keep_alive_s
            if start <= t <= stop:
                cold = False
                loaded(start, t)
            elif t > stop:
                loaded(start, stop)
            if decision.prewarm_s > 0 and start <= t and start < stop:  # the pre-warm happened
                prewarm(start, not cold)
        call(t, cold)
        if cold and cold_times is not None:
            cold_times.append(t)
        busy_until = t + d
        decision = decide()
    if decision is not None:  # the last window runs out (or the trace ends)
        start = busy_until + decision.prewarm_s
        stop = min(end, busy_until + decision.keep_alive_s)
        loaded(start, stop)
        if decision.prewarm_s > 0 and start < stop:  # a pre-warm that served nothing
            prewarm(start, False)
    return [tuple(s) for s in stats]  # type: ignore[misc]


def replay(trace: Trace, policies: dict[str, PolicyFactory], windows: list[Window],
           prewarm_cell_s: dict[str, float] | None = None) -> tuple[dict[str, PolicyRun], int]:
    """Every application of `trace` through every policy (`prewarm_cell_s`: per policy, how long a cell is kept
    for each of its pre-warms). Returns the runs and the invocations replayed."""
    runs = {name: PolicyRun(name, {w.name: Tally() for w in windows}) for name in policies}
    total = 0
    for app in trace.apps:
        total += len(app.arrivals)
        for name, factory in policies.items():
            run = runs[name]
            began = time.perf_counter()
            cold_times = run.cold_times.setdefault(app.memory_mb, []) if app.takes_cells else None
            stats = replay_app(app, factory(app), windows, trace.seconds, cold_times,
                               (prewarm_cell_s or {}).get(name, 0.0))
            run.seconds += time.perf_counter() - began
            for w, (calls, cold, waste, prewarms, used) in zip(windows, stats):
                tally = run.tallies[w.name]
                tally.invocations += calls
                tally.cold += cold
                tally.waste_mb_s += waste
                tally.prewarms += prewarms
                tally.prewarms_used += used
                if calls:
                    tally.app_shares.append(cold / calls)
    for run in runs.values():
        for times in run.cold_times.values():
            times.sort()
    return runs, total
