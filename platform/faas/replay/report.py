"""The figures of a replay, per policy and window, and the comparison the learned policy is judged by."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .simulate import PolicyRun, Tally

BASELINE = "fixed-10min"
"""Wasted memory-time is given as a share of this policy's."""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 < q <= 100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Figures:
    """One policy over one window."""

    policy: str
    window: str
    apps: int
    invocations: int
    p75_app_cold: float
    """The 75th-percentile application's share of cold starts."""
    cold: float
    """Cold starts per invocation."""
    cold_cell: float
    cold_image: float
    waste_mb_s: float
    """Containers' and ready cells' idle memory-time."""
    waste_share: float
    """waste_mb_s over the baseline's in the same window."""
    prewarms: int
    prewarms_used: int
    replay_per_s: float

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def figures(runs: dict[str, PolicyRun], total_invocations: int) -> list[Figures]:
    result = []
    for run in runs.values():
        for window, tally in run.tallies.items():
            result.append(_figures(run, window, tally, runs, total_invocations))
    return result


def _figures(run: PolicyRun, window: str, tally: Tally, runs: dict[str, PolicyRun], total: int) -> Figures:
    cells, idle = run.cells.get(window, (0, 0.0))
    waste = tally.waste_mb_s + idle
    base = runs.get(BASELINE)
    base_waste = (base.tallies[window].waste_mb_s + base.cells.get(window, (0, 0.0))[1]) if base else waste
    calls = max(1, tally.invocations)
    return Figures(run.name, window, len(tally.app_shares), tally.invocations, percentile(tally.app_shares, 75),
                   tally.cold / calls, cells / calls, (tally.cold - cells) / calls, waste,
                   waste / base_waste if base_waste else 0.0, tally.prewarms, tally.prewarms_used,
                   total / run.seconds if run.seconds else 0.0)


def table(rows: list[Figures]) -> str:
    lines = []
    for window in dict.fromkeys(r.window for r in rows):
        some = [r for r in rows if r.window == window]
        lines.append(f"{window}: {some[0].apps} apps, {some[0].invocations:,} invocations")
        lines.append(f"  {'policy':<14}{'p75 app cold':>13}{'cold':>8}{'(cell':>8}{'image)':>8}"
                     f"{'wasted mem':>12}{'pre-warms':>11}{'served':>9}{'replay/s':>11}")
        for r in some:
            lines.append(f"  {r.policy:<14}{r.p75_app_cold:>12.1%} {r.cold:>7.2%} {r.cold_cell:>7.2%} "
                         f"{r.cold_image:>7.2%} {r.waste_share:>11.1%} {r.prewarms:>10,} {r.prewarms_used:>8,} "
                         f"{r.replay_per_s:>10,.0f}")
    return "\n".join(lines)


def verdict(rows: list[Figures], window: str) -> list[str]:
    """The issue's checks in `window`: the hybrid beats fixed 10 min on the p75 share at <= 100 % of its
    memory; the adaptive policy is at <= 0.5 x the hybrid's p75 share and <= 0.5 x its wasted memory."""
    by = {r.policy: r for r in rows if r.window == window}
    out = []
    fixed, hybrid, ours = by.get(BASELINE), by.get("hybrid"), by.get("adaptive")
    if fixed and hybrid:
        ok = hybrid.p75_app_cold < fixed.p75_app_cold and hybrid.waste_share <= 1.0
        out.append(f"hybrid vs fixed 10 min: p75 app cold {hybrid.p75_app_cold:.1%} vs {fixed.p75_app_cold:.1%}, "
                   f"wasted memory {hybrid.waste_share:.0%} (sanity check: {'met' if ok else 'NOT met'})")
    if hybrid and ours:
        cold = ours.p75_app_cold / hybrid.p75_app_cold if hybrid.p75_app_cold else math.inf
        mem = ours.waste_mb_s / hybrid.waste_mb_s if hybrid.waste_mb_s else math.inf
        ok = cold <= 0.5 and mem <= 0.5
        beat = ours.p75_app_cold < hybrid.p75_app_cold and ours.waste_mb_s < hybrid.waste_mb_s
        out.append(f"adaptive vs hybrid: p75 app cold {cold:.2f}x, wasted memory {mem:.2f}x "
                   f"(beats it on both: {'yes' if beat else 'NO'}; target <= 0.5x on both: "
                   f"{'met' if ok else 'NOT met'})")
    return out
