"""The platform's metrics, through prometheus-client. Names (stable; the README lists them):

| name | type | labels | counted by |
|---|---|---|---|
| `faas_invocations_total` | counter | function, outcome | the pool |
| `faas_invocation_duration_seconds` | histogram | function | the pool |
| `faas_cold_starts_total` | counter | function, path (image, cell) | the pool |
| `faas_container_starts_total` | counter | function, reason (demand, reserved, prewarm), path | the pool |
| `faas_prewarms_total` | counter | function, outcome (served, unused) | the pool's keep-alive policy |
| `faas_idle_memory_mb_seconds_total` | counter | kind (container, cell) | the pool's upkeep |
| `faas_cells` | gauge | state (ready, starting), memory_mb | the cell pool, at scrape time |
| `faas_builds_total` | counter | status | the function service |
| `faas_trigger_invocations_total` | counter | function, type | triggers |
| `faas_front_door_total` | counter | result (answered, handed_over) | the API's front door |
| `faas_containers` | gauge | function, state | the pool, at scrape time |
| `faas_async_events_total` | counter | status, condition | async workers (in Redis) |
| `faas_async_retries_total` | counter | kind | async workers and the sweeper (in Redis) |
| `faas_async_queue_depth` | gauge | queue (ready, delayed, inflight) | Redis, at scrape time |
| `faas_async_pending_events` | gauge | | Redis, at scrape time |
| `faas_async_oldest_pending_age_seconds` | gauge | | Redis, at scrape time |
| `faas_async_workers` | gauge | | live worker leases in Redis, at scrape time |

The async workers are other processes (and may be on other hosts), so their counters live in Redis, where
they write them in the same transaction as the event's change; the control plane reads them when scraped.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from . import defaults

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

disable_created_metrics()  # no `*_created` series: the exposition keeps the names it always had


@dataclass
class AsyncStats:
    """What Redis says of async events when scraped."""

    ended: dict[tuple[str, str], int] = field(default_factory=dict)
    """Events ended, by (status, condition)."""
    retries: dict[str, int] = field(default_factory=dict)
    """Retries scheduled, by kind (function_error, system_error)."""
    ready: int = 0
    delayed: int = 0
    inflight: int = 0
    pending: int = 0
    oldest_pending_age: float = 0.0
    workers: int = 0


class Activity:
    """Each function's invocations, errors and cold starts in the last `window` seconds, in one-minute buckets
    kept in memory (so per control plane, since its start), and when it was last invoked: what a console's
    list of functions shows. Cheap enough for every invocation: a dict lookup and two increments."""

    BUCKET_S = 60

    def __init__(self, window_s: int = defaults.STATS_WINDOW_S, clock=time.time):
        self.window_s = window_s
        self.clock = clock
        self._buckets = window_s // self.BUCKET_S
        self._functions: dict[str, dict] = {}
        """function -> {"last": time of its last invocation, "minutes": {minute: [invocations, errors, colds]}}"""

    def _counts(self, function: str, now: float) -> tuple[dict, list[int]]:
        """The function's entry and its counts of the current minute."""
        entry = self._functions.get(function)
        if entry is None:
            if len(self._functions) > 65536:  # functions come and go: forget the idlest
                self._forget_idle(now)
            entry = self._functions[function] = {"last": None, "minutes": {}}
        minute = int(now // self.BUCKET_S)
        minutes = entry["minutes"]
        counts = minutes.get(minute)
        if counts is None:
            for old in [m for m in minutes if m <= minute - self._buckets]:
                del minutes[old]
            counts = minutes[minute] = [0, 0, 0]
        return entry, counts

    def invocation(self, function: str, error: bool) -> None:
        now = self.clock()
        entry, counts = self._counts(function, now)
        counts[0] += 1
        counts[1] += error
        entry["last"] = now

    def cold_start(self, function: str) -> None:
        self._counts(function, self.clock())[1][2] += 1

    def _forget_idle(self, now: float) -> None:
        cutoff = now - self.window_s
        for name in [n for n, e in self._functions.items() if (e["last"] or 0) < cutoff]:
            del self._functions[name]

    def snapshot(self) -> list[dict]:
        """Every function seen in the window, by name: its counts there and its last invocation."""
        now = self.clock()
        first = int(now // self.BUCKET_S) - self._buckets + 1
        out = []
        for name in sorted(self._functions):
            entry = self._functions[name]
            totals = [0, 0, 0]
            for minute, counts in entry["minutes"].items():
                if minute >= first:
                    totals = [a + b for a, b in zip(totals, counts)]
            out.append({"functionName": name, "invocations": totals[0], "errors": totals[1],
                        "errorRate": round(totals[1] / totals[0], 4) if totals[0] else None,
                        "coldStarts": totals[2], "lastInvocationAt": entry["last"]})
        return out


class InvocationCounts:
    """faas_invocations_total{function,outcome} and faas_invocation_duration_seconds{function}, counted in plain
    dicts and lists and made into metric families when scraped: an invocation costs two increments and a bisect,
    where prometheus-client's Counter and Histogram took three locks and a loop over the buckets (about 3% of a
    warm invocation). The control plane counts from its event loop alone."""

    def __init__(self):
        self._counts: dict[tuple[str, str], int] = {}
        self._durations: dict[str, list] = {}
        """function -> [calls in each bucket (DURATION_BUCKETS, then +Inf)..., the sum of their seconds]"""

    def add(self, function: str, outcome: str, seconds: float) -> None:
        key = (function, outcome)
        self._counts[key] = self._counts.get(key, 0) + 1
        histogram = self._durations.get(function)
        if histogram is None:
            histogram = self._durations[function] = [0] * (len(DURATION_BUCKETS) + 1) + [0.0]
        histogram[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1  # the first bucket whose bound >= seconds
        histogram[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily("faas_invocations", "Invocations by function and outcome.",
                                      labels=("function", "outcome"))
        for key, n in sorted(self._counts.items()):
            counter.add_metric(key, n)
        histogram = HistogramMetricFamily("faas_invocation_duration_seconds", "Invocation time seen by the platform.",
                                          labels=("function",))
        bounds = [floatToGoString(b) for b in (*DURATION_BUCKETS, math.inf)]
        for function, counts in sorted(self._durations.items()):
            cumulative = list(itertools.accumulate(counts[:-1]))
            histogram.add_metric((function,), list(zip(bounds, cumulative)), counts[-1])
        yield counter
        yield histogram


class FrontDoorCounts:
    """faas_front_door_total{result}: plain invocations the API's front door answered itself (`answered`), and
    connections it handed to aiohttp (`handed_over`: what it does not answer, and all after it on the connection)."""

    def __init__(self):
        self.answered = 0
        self.handed_over = 0

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily("faas_front_door", "Plain invocations the API's front door answered, and "
                                      "connections it handed to aiohttp.", labels=("result",))
        counter.add_metric(("answered",), self.answered)
        counter.add_metric(("handed_over",), self.handed_over)
        yield counter


class Metrics:
    """The control plane's metrics: one object, one registry, per control plane."""

    def __init__(self):
        self.activity = Activity()
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.invocations = InvocationCounts()
        r.register(self.invocations)
        self.front_door = FrontDoorCounts()
        r.register(self.front_door)
        self.cold_starts = Counter("faas_cold_starts", "Invocations served by a container's first use, by how "
                                   "the container started (image or cell).", ("function", "path"), registry=r)
        self.container_starts = Counter("faas_container_starts", "Containers started, by reason and path (image: "
                                        "created from the function's image; cell: a ready cell specialised).",
                                        ("function", "reason", "path"), registry=r)
        self.prewarms = Counter("faas_prewarms", "Containers pre-warmed by the keep-alive policy before a "
                                "predicted call, by whether one served a call (served) or went unused (unused).",
                                ("function", "outcome"), registry=r)
        self.idle_memory = Counter("faas_idle_memory_mb_seconds", "Memory held idle, in MB-seconds: warm "
                                   "containers waiting for a call (container) and ready cells (cell).", ("kind",),
                                   registry=r)
        self.builds = Counter("faas_builds", "Image builds by outcome.", ("status",), registry=r)
        self.trigger_invocations = Counter(
            "faas_trigger_invocations",
            "Invocations caused by triggers, by function and trigger type (http: requests; timer: firings; "
            "queue: batches delivered).", ("function", "type"), registry=r)
        self._trigger_children: dict[tuple[str, str], Any] = {}
        """(function, trigger type) -> its counter child."""

    def invocation(self, function: str, outcome, seconds: float) -> None:
        label = "success" if outcome.error is None else ("handled_error" if outcome.error.startswith("Handled")
                                                         else "unhandled_error")
        self.invocations.add(function, label, seconds)
        self.activity.invocation(function, outcome.error is not None)

    def cold_start(self, function: str, path: str = "image") -> None:
        self.cold_starts.labels(function, path).inc()
        self.activity.cold_start(function)

    def container_start(self, function: str, reason: str, path: str = "image") -> None:
        self.container_starts.labels(function, reason, path).inc()

    def prewarm(self, function: str, outcome: str) -> None:
        self.prewarms.labels(function, outcome).inc()

    def idle(self, kind: str, mb_seconds: float) -> None:
        if mb_seconds > 0:
            self.idle_memory.labels(kind).inc(mb_seconds)

    def build(self, status: str) -> None:
        self.builds.labels(status).inc()

    def trigger_invocation(self, function: str, kind: str) -> None:
        child = self._trigger_children.get((function, kind))
        if child is None:  # labels() costs a lock and a lookup: once per function and type
            if len(self._trigger_children) > 65536:
                self._trigger_children.clear()
            child = self._trigger_children[(function, kind)] = self.trigger_invocations.labels(function, kind)
        child.inc()

    def render(self, *scraped: Iterable[Metric]) -> bytes:
        """The exposition: the registry's metrics, then those read at scrape time."""
        return generate_latest(_Scrape(self.registry, scraped))


class _Scrape:
    """What generate_latest reads: the registry and the metric families of this scrape."""

    def __init__(self, registry: CollectorRegistry, scraped: tuple[Iterable[Metric], ...]):
        self.registry, self.scraped = registry, scraped

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        for families in self.scraped:
            yield from families


def container_families(instances: Iterable) -> list[Metric]:
    """faas_containers{function,state} of the pool's containers now."""
    counts: dict[tuple[str, str], int] = {}
    for inst in instances:
        key = (inst.function, inst.state.value)
        counts[key] = counts.get(key, 0) + 1
    gauge = GaugeMetricFamily("faas_containers", "Function containers by function and state.",
                              labels=("function", "state"))
    for key, n in sorted(counts.items()):
        gauge.add_metric(key, n)
    return [gauge]


def cell_families(ready: dict[tuple[str, int], int], starting: dict[tuple[str, int], int]) -> list[Metric]:
    """faas_cells{state,memory_mb,runtime}: cells ready and starting, per class (runtime and memory size)."""
    gauge = GaugeMetricFamily("faas_cells", "Cells (started generic runtime containers) by state and class (memory "
                              "size, runtime).", labels=("state", "memory_mb", "runtime"))
    for state, counts in (("ready", ready), ("starting", starting)):
        for (runtime, mb), n in sorted(counts.items()):
            gauge.add_metric((state, str(mb), runtime), n)
    return [gauge]


def async_families(stats: AsyncStats) -> list[Metric]:
    """The async workers' metrics, from what Redis holds now."""
    ended = CounterMetricFamily("faas_async_events", "Async events ended, by status and condition.",
                                labels=("status", "condition"))
    for key, n in sorted(stats.ended.items()):
        ended.add_metric(key, n)
    retries = CounterMetricFamily("faas_async_retries", "Async retries scheduled, by kind (function_error: "
                                  "counted against async.retries; system_error: the platform could not run it).",
                                  labels=("kind",))
    for kind, n in sorted(stats.retries.items()):
        retries.add_metric((kind,), n)
    depth = GaugeMetricFamily("faas_async_queue_depth", "Async events by where they wait: ready to run, delayed "
                              "until a retry is due, or held by a worker.", labels=("queue",))
    for name in ("ready", "delayed", "inflight"):
        depth.add_metric((name,), getattr(stats, name))
    return [ended, retries, depth,
            GaugeMetricFamily("faas_async_pending_events", "Async events accepted and not yet ended.",
                              value=stats.pending),
            GaugeMetricFamily("faas_async_oldest_pending_age_seconds",
                              "Age of the oldest async event not yet ended (0: none).", value=stats.oldest_pending_age),
            GaugeMetricFamily("faas_async_workers", "Async worker processes whose lease is live.",
                              value=stats.workers)]
