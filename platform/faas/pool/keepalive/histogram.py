"""A bounded histogram of idle times (the end of an invocation to the next arrival), the data every learned
keep-alive policy decides from.

Bins are given by their upper edges, so the same class serves the published hybrid policy's 1-minute bins
over 4 hours and the platform's own geometric bins. Idle times past the last edge are counted apart (out of
bounds). Adding a sample is O(log bins); the coefficient of variation of the bin counts is kept up to date
as counts change, and percentiles are found by walking in from the nearer end, so a decision after every
invocation stays cheap for functions called many times a second.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence


class IdleHistogram:
    """Counts of idle times per bin, between 0 and the last edge, and a count of those beyond it."""

    __slots__ = ("edges", "counts", "in_bounds", "out_of_bounds", "_squares", "_lowest", "_highest")

    def __init__(self, edges: Sequence[float]):
        if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] <= 0:
            raise ValueError("edges must be positive and strictly increasing")
        self.edges = tuple(float(e) for e in edges)
        """Upper edge of each bin: bin i holds idle times in [edges[i-1], edges[i]) (bin 0 from 0)."""
        self.counts = [0] * len(self.edges)
        self.in_bounds = 0
        self.out_of_bounds = 0
        self._squares = 0  # sum of the squared bin counts, for the coefficient of variation
        self._lowest = len(self.edges)  # the lowest and highest bins with a count, to start percentile walks
        self._highest = -1

    @property
    def samples(self) -> int:
        """Idle times seen, in bounds or not."""
        return self.in_bounds + self.out_of_bounds

    @property
    def span(self) -> float:
        """The last edge: idle times at or past it are out of bounds."""
        return self.edges[-1]

    def add(self, idle_s: float) -> None:
        if not idle_s >= 0:  # NaN or negative: a clock went backwards; nothing to learn from
            return
        i = bisect_right(self.edges, idle_s)
        if i == len(self.edges):
            self.out_of_bounds += 1
            return
        c = self.counts[i]
        self.counts[i] = c + 1
        self._squares += 2 * c + 1
        self.in_bounds += 1
        self._lowest = min(self._lowest, i)
        self._highest = max(self._highest, i)

    def lower_edge(self, i: int) -> float:
        return self.edges[i - 1] if i else 0.0

    def cv(self) -> float:
        """Coefficient of variation of the bin counts (all bins, empty ones included): near 0 when idle times
        spread evenly, large when they gather in a few bins. 0 with no sample in bounds."""
        n, bins = self.in_bounds, len(self.counts)
        if not n:
            return 0.0
        mean = n / bins
        variance = max(0.0, self._squares / bins - mean * mean)
        return math.sqrt(variance) / mean

    def percentile_bin(self, q: float) -> int:
        """The bin holding the q-th percentile (0 < q < 100) of the idle times in bounds; -1 with none."""
        n = self.in_bounds
        if not n:
            return -1
        if q <= 50:  # walk up from the lowest bin until more than q % lie at or below
            need = n * q / 100.0
            seen = 0
            for i in range(self._lowest, self._highest + 1):
                seen += self.counts[i]
                if seen >= need and seen:
                    return i
            return self._highest
        above = n * (100.0 - q) / 100.0  # walk down from the highest until more than (100 - q) % lie above
        seen = 0
        for i in range(self._highest, self._lowest - 1, -1):
            seen += self.counts[i]
            if seen > above:
                return i
        return self._lowest

    def scale(self, factor: float) -> None:
        """Multiply every count by `factor` (0 < factor < 1) rounding down: older idle times weigh less, so
        that a function whose pattern changed is learned anew. Counts that reach 0 leave the histogram."""
        counts = self.counts
        squares, total, lowest, highest = 0, 0, len(counts), -1
        for i in range(self._lowest, self._highest + 1):
            c = int(counts[i] * factor)
            counts[i] = c
            if c:
                squares += c * c
                total += c
                lowest, highest = min(lowest, i), i
        self._squares, self.in_bounds, self._lowest, self._highest = squares, total, lowest, highest
        self.out_of_bounds = int(self.out_of_bounds * factor)


def linear_edges(bin_s: float, span_s: float) -> list[float]:
    """Equal bins of `bin_s` seconds up to `span_s`."""
    n = round(span_s / bin_s)
    return [bin_s * (i + 1) for i in range(n)]


def geometric_edges(first_s: float, ratio: float, span_s: float) -> list[float]:
    """Bins that widen by `ratio` from `first_s`, the last edge at or past `span_s`: the same relative
    precision for a 2-second idle time as for a 20-hour one."""
    edges = [first_s]
    while edges[-1] < span_s:
        edges.append(edges[-1] * ratio)
    return edges
