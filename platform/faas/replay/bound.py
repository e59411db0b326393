"""A reference from hindsight: the best static window per application, chosen knowing all its idle times.

For each application and window of the trace, every window [a, b] (load the container `a` seconds after a
call ends, keep it until `b`) is scored on that window's idle times: the calls it leaves cold and the
memory-time it loads without running a call. For each price of memory, each application takes the window
that minimises cold starts + price x wasted MB-s; the figures over all applications trace one curve per
trace window. No online policy knows the idle times in advance, but a static window cannot follow a daily
cycle or a changed pattern, so this is a reference, not a strict bound: it shows what the policies of the
family the hybrid and the adaptive policy belong to could reach on a trace at all, and so whether a target
is asked of the policy or of the trace.

The model is the simulator's (one container per application, a call during a running call is warm) without
cells; wasted memory is a share of fixed 10 min's in the same model.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .report import Figures, percentile
from .simulate import Window
from .trace import App

CANDIDATES = 64
"""Window edges tried per application: quantiles of its idle times (an optimal edge lies on one)."""

PRICES_S = tuple(375.0 * 2 ** (i / 2) for i in range(23))
"""Memory prices swept, as the seconds a 128 MB container may be kept for one cold start spared (375 s to
about 8.9 days, in steps of sqrt 2)."""

FIXED_S = 600.0
"""The window wasted memory is a share of: fixed 10 min."""


@dataclass(frozen=True, slots=True)
class Point:
    price_s: float
    p75_app_cold: float
    cold: float
    """Cold starts per invocation."""
    waste_share: float


def idle_times(app: App, window: Window) -> tuple[int, int, list[float]]:
    """(calls in the window, cold starts that no window avoids, sorted idle times that end in the window)."""
    busy = None
    calls, forced, gaps = 0, 0, []
    for t, d in zip(app.arrivals, app.durations):
        inside = window.start <= t < window.end
        calls += inside
        if busy is None:
            forced += inside  # the first call ever
        elif t > busy and inside:
            gaps.append(t - busy)
        busy = t + d if busy is None else max(busy, t + d)
    gaps.sort()
    return calls, forced, gaps


def hull(forced: int, gaps: list[float], memory_mb: int, candidates: int = CANDIDATES) -> list[tuple[float, float]]:
    """The lower convex hull of (cold starts, wasted MB-s) over windows on `gaps`, fewest cold starts first: the
    only windows a price can choose. The window that loads nothing is among them (the last point)."""
    n = len(gaps)
    points = [(float(forced + n), 0.0)]
    if n:
        prefix = [0.0]
        for g in gaps:
            prefix.append(prefix[-1] + g)
        edges = sorted({gaps[min(n - 1, i * n // candidates)] for i in range(candidates)} | {gaps[-1]})
        ends = [(b, bisect.bisect_right(gaps, b)) for b in edges]
        for a in [0.0, *edges]:
            i = bisect.bisect_left(gaps, a)
            for b, j in ends:
                if b >= a:
                    waste = prefix[j] - prefix[i] - a * (j - i) + (n - j) * (b - a)
                    points.append((float(forced + i + n - j), max(0.0, waste) * memory_mb))  # no rounding below 0
    return _lower_hull(points)


def _lower_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    best: dict[float, float] = {}
    for cold, waste in points:
        if waste < best.get(cold, float("inf")):
            best[cold] = waste
    out: list[tuple[float, float]] = []
    for p in sorted(best.items()):
        if out and p[1] >= out[-1][1]:
            continue  # more cold starts for no less memory
        while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
            out.pop()
        out.append(p)
    return out


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


@dataclass
class _Apps:
    calls: list[int] = field(default_factory=list)
    hulls: list[list[tuple[float, float]]] = field(default_factory=list)
    fixed_waste: float = 0.0


class Bound:
    """Collects each application's hull per window as the replay reads the trace (`watch`), then sweeps the
    price (`curve`)."""

    def __init__(self, windows: Iterable[Window]):
        self.windows = list(windows)
        self._apps = {w.name: _Apps() for w in self.windows}

    def watch(self, apps: Iterable[App]) -> Iterator[App]:
        for app in apps:
            self.add(app)
            yield app

    def add(self, app: App) -> None:
        for window in self.windows:
            calls, forced, gaps = idle_times(app, window)
            if not calls:
                continue
            into = self._apps[window.name]
            into.calls.append(calls)
            into.hulls.append(hull(forced, gaps, app.memory_mb))
            into.fixed_waste += sum(min(g, FIXED_S) for g in gaps) * app.memory_mb

    def curve(self, window: str) -> list[Point]:
        apps = self._apps[window]
        total_calls = max(1, sum(apps.calls))
        points = []
        for price_s in PRICES_S:
            per_mb_s = 1.0 / (128 * price_s)
            shares, cold, waste = [], 0.0, 0.0
            for calls, options in zip(apps.calls, apps.hulls):
                c, w = min(options, key=lambda p: p[0] + per_mb_s * p[1])
                shares.append(c / calls)
                cold += c
                waste += w
            points.append(Point(price_s, percentile(shares, 75), cold / total_calls,
                                waste / apps.fixed_waste if apps.fixed_waste else 0.0))
        return points


def least_waste(points: list[Point], p75_at_most: float) -> Point | None:
    """The point of the curve with the least wasted memory whose p75 share is at most `p75_at_most`."""
    fit = [p for p in points if p.p75_app_cold <= p75_at_most]
    return min(fit, key=lambda p: p.waste_share) if fit else None


def lowest_p75(points: list[Point], waste_at_most: float) -> Point | None:
    """The point with the lowest p75 share whose wasted memory is at most `waste_at_most`."""
    fit = [p for p in points if p.waste_share <= waste_at_most]
    return min(fit, key=lambda p: (p.p75_app_cold, p.waste_share)) if fit else None


def bound_lines(points: list[Point], rows: list[Figures], window: str) -> list[str]:
    """The hindsight reference's curve in `window`, and where it stands against the checks of `verdict`."""
    if not points:
        return []
    out = ["hindsight reference (each application's best static window at a memory price; no cells):",
           f"  {'price':>10}{'p75 app cold':>14}{'cold':>9}{'wasted mem':>12}"]
    out += [f"  {p.price_s:>9,.0f}s {p.p75_app_cold:>13.1%} {p.cold:>8.3%} {p.waste_share:>11.1%}" for p in points]
    best = lowest_p75(points, 1.0)
    if best:
        out.append(f"  at <= 100% of fixed 10 min's memory: p75 app cold {best.p75_app_cold:.1%} at "
                   f"{best.waste_share:.1%}")
    hybrid = next((r for r in rows if r.window == window and r.policy == "hybrid"), None)
    if hybrid:
        least = least_waste(points, 0.5 * hybrid.p75_app_cold)
        needs = f"{least.waste_share:.1%}" if least else "not reached"
        out.append(f"  with p75 app cold <= 0.5x the hybrid's ({0.5 * hybrid.p75_app_cold:.1%}): wasted memory "
                   f"{needs} (0.5x the hybrid's: {0.5 * hybrid.waste_share:.1%})")
    return out
