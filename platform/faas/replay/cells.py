"""The second pass of a replay: the cold starts that may take a cell, per memory class, against that class's
pool of ready cells under a sizing rule (`cells/demand.py`, the pool's own code).

A cell takes `START_S` to start. A cold start that finds a ready cell takes it (a cell cold start) and the pool
refills at once; one that finds none starts from the image and the pool refills `AFTER_MISS_S` later (the
pool's REFILL_AFTER_MISS_S). Whenever the target falls, surplus ready cells are removed. Ready cells' memory
is wasted memory-time.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

from .. import defaults
from ..cells import demand
from ..cells.pool import REFILL_AFTER_MISS_S
from .simulate import Window

START_S = 0.5
"""Seconds a cell takes to start here (a runc container of the runtime image, its runtime listening)."""
AFTER_MISS_S = REFILL_AFTER_MISS_S

Rule = Callable[[int, deque], int]
"""(memoryMB, times of the class's recent cold starts) -> cells to keep ready."""


def platform_rule(minimum: int = defaults.CELLS_MIN, maximum: int = defaults.CELLS_MAX) -> tuple[Rule, float]:
    """The pool's rule today, and the window of recent cold starts it reads."""
    def rule(mb: int, recent: deque) -> int:
        return demand.target(len(recent), mb == defaults.MEMORY_MB, minimum, maximum)
    return rule, demand.DEMAND_WINDOW_S


def priced_rule(price: float, image_weight: float, maximum: int = defaults.CELLS_MAX) -> tuple[Rule, float]:
    """The learned policy's rule: cells worth their memory at the rate of the last hour's cold starts."""
    def rule(mb: int, recent: deque) -> int:
        rate = len(recent) / demand.RATE_WINDOW_S
        return demand.priced_target(rate, mb, START_S + AFTER_MISS_S, price, image_weight, maximum)
    return rule, demand.RATE_WINDOW_S


def cell_pass(times: list[float], mb: int, rule: Rule, window_s: float, end: float,
              windows: list[Window]) -> dict[str, tuple[int, float]]:
    """Per window: (cold starts served by a cell, ready cells' MB-seconds), for sorted cold start `times`."""
    took = {w.name: 0 for w in windows}
    idle = {w.name: 0.0 for w in windows}
    recent: deque[float] = deque()
    ready = rule(mb, recent)
    starting: list[float] = []  # completion times (a heap)
    heap: list[tuple[float, int]] = [(t, 0) for t in times]  # (time, 0 demand / 1 expiry / 2 started)
    heapq.heapify(heap)
    last = 0.0

    def settle(now: float, refill_at: float) -> None:
        nonlocal ready
        wanted = rule(mb, recent)
        have = ready + len(starting)
        if have > wanted:
            ready -= min(ready, have - wanted)
        for _ in range(wanted - have):
            heapq.heappush(starting, refill_at + START_S)
            heapq.heappush(heap, (refill_at + START_S, 2))

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
            heapq.heappush(heap, (t + window_s, 1))
            if ready:
                ready -= 1
                for w in windows:
                    if w.start <= t < w.end:
                        took[w.name] += 1
            else:
                refill_at = t + AFTER_MISS_S
        elif kind == 1:
            while recent and recent[0] + window_s <= t:
                recent.popleft()
        else:
            heapq.heappop(starting)
            ready += 1
        settle(t, refill_at)
    for w in windows:
        idle[w.name] += ready * mb * w.overlap(last, end)
    return {w.name: (took[w.name], idle[w.name]) for w in windows}
