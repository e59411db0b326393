"""scripts/replay: trace replay of keep-alive policies (see README, "Keep-alive policy")."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .. import defaults
from ..cells import demand
from ..pool.keepalive import Adaptive, Fixed, Hybrid, KeepAlivePolicy
from . import cells as cell_rules
from .bound import Bound, bound_lines
from .report import figures, table, verdict
from .simulate import PolicyFactory, Window, replay
from .synthetic import DAY, generate
from .trace import MEMORY_CLASSES, App, Trace, read_azure_2019, read_azure_2021


def _adaptive(app: App) -> KeepAlivePolicy:
    return Adaptive(app.memory_mb, app.takes_cells)


POLICIES: dict[str, tuple[PolicyFactory, Callable[[], cell_rules.Rule]]] = {
    "fixed-10min": (lambda app: Fixed(600), cell_rules.platform_rule),
    "fixed-60min": (lambda app: Fixed(3600), cell_rules.platform_rule),
    "hybrid": (lambda app: Hybrid(), cell_rules.platform_rule),
    "adaptive": (_adaptive, cell_rules.learned_rule),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/replay", description=__doc__)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--azure-2019", type=Path, metavar="DIR", help="a directory of the 2019 trace's CSV files")
    source.add_argument("--azure-2021", type=Path, metavar="CSV", help="the 2021 per-invocation trace")
    p.add_argument("--apps", type=int, default=1000, help="applications (generated, or sampled from a trace)")
    p.add_argument("--days", type=float, default=7.0, help="days generated, or day files read (2019)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-per-day", type=float, default=10_000.0, help="the generator's highest rate")
    p.add_argument("--last-days", type=float, default=2.0, help="the window reported apart, at the trace's end")
    p.add_argument("--policies", default=",".join(POLICIES), help="comma-separated, of " + ", ".join(POLICIES))
    p.add_argument("--bound", action="store_true",
                   help="also the hindsight reference: each application's best static window, per memory price")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    unknown = set(args.policies.split(",")) - set(POLICIES)
    if unknown:
        p.error(f"unknown policies: {', '.join(sorted(unknown))}")
    if args.apps < 1 or args.days <= 0 or args.last_days <= 0:
        p.error("--apps, --days and --last-days must be positive")
    return args


def load(args: argparse.Namespace) -> Trace:
    if args.azure_2019:
        return read_azure_2019(args.azure_2019, days=int(args.days), apps=args.apps, seed=args.seed)
    if args.azure_2021:
        return read_azure_2021(args.azure_2021, apps=args.apps, seed=args.seed)
    return generate(args.apps, args.days, args.seed, args.max_per_day)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    trace = load(args)
    windows = [Window("whole trace", 0.0, trace.seconds),
               Window(f"last {args.last_days:g} days", max(0.0, trace.seconds - args.last_days * DAY), trace.seconds)]
    chosen = {name: POLICIES[name] for name in args.policies.split(",")}
    bound = Bound(windows) if args.bound else None
    if bound:
        trace = dataclasses.replace(trace, apps=bound.watch(trace.apps))
    began = time.perf_counter()
    runs, total = replay(trace, {name: factory for name, (factory, _) in chosen.items()}, windows,
                         prewarm_cell_s={"adaptive": demand.EXPECT_LEAD_S})
    for name, (_, make_rule) in chosen.items():
        rule = make_rule()
        run = runs[name]
        for mb in MEMORY_CLASSES:
            passed = cell_rules.cell_pass(run.cold_times.get(mb, []), mb, rule, trace.seconds, windows)
            for w, (took, idle) in passed.items():
                cells, waste = run.cells.get(w, (0, 0.0))
                run.cells[w] = (cells + took, waste + idle)
    rows = figures(runs, total)
    curves = {w.name: bound.curve(w.name) for w in windows} if bound else {}
    if args.json:
        out = {"trace": trace.source, "invocations": total, "skipped": trace.skipped,
               "figures": [r.as_dict() for r in rows]}
        if bound:
            out["bound"] = {name: [dataclasses.asdict(p) for p in points] for name, points in curves.items()}
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    print(f"{trace.source}: {total:,} invocations replayed in {time.perf_counter() - began:.1f} s")
    if trace.skipped:
        print("malformed rows skipped: " + ", ".join(f"{k} {v}" for k, v in trace.skipped.items()))
    print(table(rows))
    for window in windows:
        for line in verdict(rows, window.name):
            print(f"{window.name}: {line}")
    for window in windows:
        for line in bound_lines(curves.get(window.name, []), rows, window.name):
            print(f"{window.name}: {line}")
    print(f"(cells: FAAS_CELLS_MIN={defaults.CELLS_MIN}, FAAS_CELLS_MAX={defaults.CELLS_MAX}; for adaptive, cells "
          f"priced by the last hour's cold starts as well)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
