"""How many cells of a memory class to keep ready: pure decisions over counts of recent cold starts.

`target` is the pool's rule today (FAAS_CELLS_MIN/MAX over the last minute's cold starts). `priced_target` is
the learned keep-alive policy's rule: each ready cell costs its memory for as long as it waits, and is worth
what it saves, an image start (~400 ms) turned into a cell's specialisation (~10 ms), each time a cold start
of its class finds it. Keep the k-th cell while the cold starts that would find it (those that come while
k - 1 others are already taken and not yet replaced) are worth more than its memory, at the same price of
memory in cold starts as the functions' keep-alive windows (pool/keepalive/adaptive.py).
"""

from __future__ import annotations

import math

from ..pool.keepalive import adaptive

DEMAND_WINDOW_S = 60.0
"""Cold starts of a class within this many seconds set how many cells of it are kept ready (`target`)."""

RATE_WINDOW_S = 3600.0
"""Cold starts of a class within this many seconds give its rate of cold starts (`priced_target`)."""

START_S = 0.5
"""Seconds a cell takes to start here (a runc container of the runtime image, its runtime listening)."""

EXPECT_LEAD_S = 5.0
"""A pre-warm due within this many seconds keeps a cell of its class ready for it (the pool), and so holds a
cell's memory about this long (the replay)."""

REFILL_AFTER_MISS_S = 2.0
"""A cold start that found no cell starts from its image now: the cells its demand asks for start after it, not
beside it on the same cores."""


def target(cold_starts: int, default_class: bool, minimum: int, maximum: int) -> int:
    """Cells of a class to keep ready: as many as its cold starts in the last DEMAND_WINDOW_S, at least
    `minimum` for the default class and for any class with cold starts, at most `maximum`."""
    floor = minimum if default_class or cold_starts else 0
    return max(0, min(maximum, max(floor, cold_starts)))


def priced_target(rate_per_s: float, memory_mb: int, refill_s: float, price: float, image_weight: float,
                  maximum: int) -> int:
    """Cells of a class worth keeping ready for cold starts arriving at `rate_per_s`, each replaced after
    `refill_s`: the k-th is kept while rate x P(at least k - 1 other cold starts within refill_s) x the start
    it saves (`image_weight` - 1, in cell cold starts) is worth at least its memory (`price` per MB-second)."""
    cost = price * memory_mb
    if rate_per_s <= 0 or cost <= 0:
        return 0 if cost > 0 else maximum
    expected = rate_per_s * refill_s
    k, term, below = 0, math.exp(-expected), 0.0  # term: P(N = k); below: P(N < k)
    while k < maximum and rate_per_s * (1.0 - below) * (image_weight - 1.0) >= cost:
        k += 1
        below += term
        term *= expected / k
    return k


def wanted(last_minute: int, last_hour: int, default_class: bool, memory_mb: int, minimum: int, maximum: int,
           due: int = 0) -> int:
    """Cells of a class to keep ready: the pool's rule (`target`) or the priced one at the last hour's rate of
    cold starts, whichever keeps more, plus one for each pre-warm of the class due soon (`due`), at most
    `maximum`."""
    priced = priced_target(last_hour / RATE_WINDOW_S, memory_mb, START_S + REFILL_AFTER_MISS_S, adaptive.PRICE,
                           adaptive.IMAGE_WEIGHT, maximum)
    return min(maximum, max(target(last_minute, default_class, minimum, maximum), priced) + due)
