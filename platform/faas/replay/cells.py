"""The second pass of a replay: the cold starts that may take a cell, per memory class, against that class's
pool of ready cells under a sizing rule (`cells/demand.py`, the pool's own code).

A cell takes `demand.START_S` to start. A cold start that finds a ready cell takes it (a cell cold start) and the
pool refills at once; one that finds none starts from the image and the pool refills `demand.REFILL_AFTER_MISS_S`
later.
Whenever the target falls, surplus ready cells are removed. Ready cells' memory
is wasted memory-time.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Callable

from .. import defaults
from ..cells import demand
from .simulate import Window

Rule = Callable[[int, deque, float], int]
"""(memoryMB, times of the class's cold starts in the last hour, now) -> cells to keep ready."""


def _last_minute(recent: deque, now: float) -> int:
    # (a microsecond's slack: (t + 60) - 60 may come out a hair below t)
    return len(recent) - bisect.bisect_right(recent, now - demand.DEMAND_WINDOW_S + 1e-6)


def platform_rule(minimum: int = defaults.CELLS_MIN, maximum: int = defaults.CELLS_MAX) -> Rule:
    """The pool's rule before the learned policy (demand.target), as the baselines run it."""
    def rule(mb: int, recent: deque, now: float) -> int:
        return demand.target(_last_minute(recent, now), mb == defaults.MEMORY_MB, minimum, maximum)
    return rule


def learned_rule(minimum: int = defaults.CELLS_MIN, maximum: int = defaults.CELLS_MAX) -> Rule:
    """The pool's rule today (demand.wanted): the rule above or the priced one, whichever keeps more. (Pre-warms
    take cells started for them, which the replay does not count as idle.)"""
    def rule(mb: int, recent: deque, now: float) -> int:
        return demand.wanted(_last_minute(recent, now), len(recent), mb == defaults.MEMORY_MB, mb, minimum, maximum)
    return rule


def cell_pass(times: list[float], mb: int, rule: Rule, end: float,
              windows: list[Window]) -> dict[str, tuple[int, float]]:
    """Per window: (cold starts served by a cell, ready cells' MB-seconds), for sorted cold start `times`."""
    took = {w.name: 0 for w in windows}
    idle = {w.name: 0.0 for w in windows}
    recent: deque[float] = deque()
    ready = rule(mb, recent, 0.0)
    starting: list[float] = []  # completion times (a heap)
    heap: list[tuple[float, int]] = [(t, 0) for t in times]  # (time, 0 demand / 1 expiry / 2 started)
    heapq.heapify(heap)
    last = 0.0

    def settle(now: float, refill_at: float) -> None:
        nonlocal ready
        wanted = rule(mb, recent, now)
        have = ready + len(starting)
        if have > wanted:
            ready -= min(ready, have - wanted)
        for _ in range(wanted - have):
            heapq.heappush(starting, refill_at + demand.START_S)
            heapq.heappush(heap, (refill_at + demand.START_S, 2))

    settle(0.0, 0.0)
    while heap:
        t, kind = heapq.heappop(heap)
        if t >= end:
            break
        for w in windows:
            idle[w.name] += ready * mb * w.overlap(last, t)
        last = t
        refill_at = t
        if kind == 0:
            recent.append(t)
            heapq.heappush(heap, (t + demand.DEMAND_WINDOW_S, 1))  # the rules change when it leaves a window
            heapq.heappush(heap, (t + demand.RATE_WINDOW_S, 1))
            if ready:
                ready -= 1
                for w in windows:
                    if w.start <= t < w.end:
                        took[w.name] += 1
            else:
                refill_at = t + demand.REFILL_AFTER_MISS_S
        elif kind == 1:
            while recent and recent[0] + demand.RATE_WINDOW_S <= t:
                recent.popleft()
        else:
            heapq.heappop(starting)
            ready += 1
        settle(t, refill_at)
    for w in windows:
        idle[w.name] += ready * mb * w.overlap(last, end)
    return {w.name: (took[w.name], idle[w.name]) for w in windows}
