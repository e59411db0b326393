"""A seeded generator of traces with the published shape of Azure Functions' workload.

Sources: Shahrad et al., "Serverless in the Wild: Characterizing and Optimizing the Serverless Workload at a
Large Cloud Provider", USENIX ATC '20, section 3, and the 2019 trace it released:
- functions per application: 54 % of applications have one (Fig. 1), 95 % at most 10;
- triggers (Fig. 2, share of functions): HTTP 55 %, queue 15 %, timer 16 %, orchestration 7 %, storage 3 %,
  event 2 %, others 2 %; timers fire near-periodically, on schedules like every minute, 5 minutes or a day;
- invocations per application span 8 orders of magnitude (Fig. 5): 45 % of applications are invoked at
  most once an hour, 81 % at most once a minute;
- inter-arrival times (Fig. 6): 40 % of applications have a coefficient of variation above 1 (bursty);
  others are near-periodic (timers, CV near 0) or more regular than Poisson;
- execution times (Fig. 7): a function's average is log-normal, ln(seconds) ~ N(-0.38, 2.36);
- memory (Fig. 8): an application's average allocated memory follows a Burr XII distribution with c = 11.652,
  k = 0.221, lambda = 107.083 MB;
- load is diurnal, and arrivals fall anywhere within a minute (the trace's minutes hide sub-minute arrivals;
  here they are continuous).

The rate distribution is cut at `max_per_day` (10,000 a day by default: one every 9 s): the trace's tail
up to 10^8 a day is warm under every policy in a one-container replay and would only slow the replay. The
rates are log-uniform between the published points (one a week, one a day, one an hour, one a minute,
`max_per_day`). Everything is drawn from one seed, each application from a generator of its own, so that a
trace is the same on every run and an application does not change when others are added.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator

from .trace import App, Trace, memory_class

DAY = 86400.0

FUNCTIONS_PER_APP = ((1, 0.54), (2, 0.14), (3, 0.08), (4, 0.05), (5, 0.04), (6, 0.03), (8, 0.04), (10, 0.03),
                     (15, 0.02), (25, 0.02), (50, 0.01))
"""(functions, share of applications): 54 % one, 95 % at most 10."""

TRIGGERS = (("http", 0.55), ("queue", 0.15), ("timer", 0.16), ("orchestration", 0.07), ("storage", 0.03),
            ("event", 0.02), ("others", 0.02))

TIMER_PERIODS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
"""Schedules a timer is given: the one nearest its share of the application's rate."""

RATE_CDF = ((1 / 7, 0.0), (1.0, 0.17), (24.0, 0.45), (1440.0, 0.81))
"""(invocations a day, share of applications at or below): one a week to one a minute, then log-uniform up
to `max_per_day`."""

BURSTY_SHARE = 0.42
"""Share of non-timer functions with bursty (Weibull shape < 1) gaps, tuned so that ~40 % of applications
have a CV above 1."""

DURATION_LOG_MEAN, DURATION_LOG_SIGMA = -0.38, 2.36
BURR_C, BURR_K, BURR_LAMBDA = 11.652, 0.221, 107.083
DIURNAL_AMPLITUDE = 0.5
IMAGE_ONLY_SHARE = 0.15
"""Applications that start from their image only (custom containers): no cell serves them."""


def _pick(rng: random.Random, table) -> object:
    u, acc = rng.random(), 0.0
    for value, share in table:
        acc += share
        if u < acc:
            return value
    return table[-1][0]


def daily_rate(u: float, max_per_day: float) -> float:
    """Invocations a day at quantile `u` of the rate distribution."""
    points = list(RATE_CDF) + [(max_per_day, 1.0)]
    shares = [p for _, p in points]
    i = max(1, min(len(points) - 1, bisect.bisect_left(shares, u)))
    (r0, p0), (r1, p1) = points[i - 1], points[i]
    f = (u - p0) / (p1 - p0) if p1 > p0 else 0.0
    return math.exp(math.log(r0) + f * (math.log(r1) - math.log(r0)))


def burr_mb(u: float) -> float:
    """The Burr XII quantile of allocated memory."""
    return BURR_LAMBDA * ((1 - u) ** (-1 / BURR_K) - 1) ** (1 / BURR_C)


def generate(apps: int = 1000, days: float = 7.0, seed: int = 1, max_per_day: float = 10_000.0) -> Trace:
    seconds = days * DAY

    def produce() -> Iterator[App]:
        for index in range(apps):
            yield make_app(random.Random(f"{seed}:{index}"), f"app-{index:05d}", seconds, max_per_day)

    return Trace(produce(), seconds, f"synthetic (seed {seed}, {apps} apps, {days:g} days)")


def make_app(rng: random.Random, name: str, seconds: float, max_per_day: float) -> App:
    per_day = daily_rate(rng.random(), max_per_day)
    n_functions = int(_pick(rng, FUNCTIONS_PER_APP))  # type: ignore[call-overload]
    weights = [rng.expovariate(1.0) for _ in range(n_functions)]
    total = sum(weights)
    phase = rng.random() * DAY
    calls: list[tuple[float, float]] = []
    for weight in weights:
        rate = per_day * weight / total / DAY  # per second
        mean_s = min(900.0, max(0.001, rng.lognormvariate(DURATION_LOG_MEAN, DURATION_LOG_SIGMA)))
        if _pick(rng, TRIGGERS) == "timer":
            times = _timer(rng, rate, seconds)
        else:
            times = _renewal(rng, rate, seconds, phase)
        sigma = 0.5
        calls.extend((t, mean_s * rng.lognormvariate(-sigma * sigma / 2, sigma)) for t in times)
    calls.sort()
    memory = memory_class(max(1.0, burr_mb(rng.random())))
    return App(name, memory, [t for t, _ in calls], [d for _, d in calls], takes_cells=rng.random() >= IMAGE_ONLY_SHARE)


def _timer(rng: random.Random, rate: float, seconds: float) -> list[float]:
    """A schedule near 1/rate, firing with sub-second jitter from a random offset."""
    period = min(TIMER_PERIODS_S, key=lambda p: abs(math.log(p * rate)))
    t = rng.random() * period
    times = []
    while t < seconds:
        times.append(max(0.0, t + abs(rng.gauss(0.0, 0.3))))
        t += period
    return times


def _renewal(rng: random.Random, rate: float, seconds: float, phase: float) -> list[float]:
    """Gaps drawn from a Weibull distribution with mean 1/rate (shape below 1: bursty, CV > 1; above: more
    regular than Poisson), stretched by a diurnal cycle."""
    shape = rng.uniform(0.35, 0.8) if rng.random() < BURSTY_SHARE else rng.uniform(1.2, 3.0)
    scale = 1.0 / (rate * math.gamma(1 + 1 / shape))
    t = rng.weibullvariate(scale, shape) * rng.random()  # in the middle of a gap at the start
    times = []
    while t < seconds:
        times.append(t)
        load = 1.0 + DIURNAL_AMPLITUDE * math.sin(2 * math.pi * (t + phase) / DAY)
        t += rng.weibullvariate(scale, shape) / load
    return times
