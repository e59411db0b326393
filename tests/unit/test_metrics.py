"""The /metrics exposition: names and shapes as documented (prometheus-client renders them)."""

from types import SimpleNamespace

from faas.metrics import Activity, AsyncStats, Metrics, async_families, container_families
from faas.pool.state import ContainerState


def test_names_and_values_are_the_documented_ones():
    m = Metrics()
    m.invocation("f", SimpleNamespace(error=None), 0.003)
    m.invocation("f", SimpleNamespace(error="HandledInvocationError"), 0.2)
    m.invocation("f", SimpleNamespace(error="UnhandledInvocationError"), 70.0)
    m.cold_start("f")
    m.container_start("f", "demand")
    m.container_start("f", "reserved", "cell")
    m.cold_start("f", "cell")
    m.build("ready")
    m.trigger_invocation("f", "http")
    text = m.render().decode()
    for line in ('faas_invocations_total{function="f",outcome="success"} 1.0',
                 'faas_invocations_total{function="f",outcome="handled_error"} 1.0',
                 'faas_invocations_total{function="f",outcome="unhandled_error"} 1.0',
                 'faas_invocation_duration_seconds_bucket{function="f",le="0.005"} 1.0',
                 'faas_invocation_duration_seconds_bucket{function="f",le="60.0"} 2.0',
                 'faas_invocation_duration_seconds_bucket{function="f",le="+Inf"} 3.0',
                 'faas_invocation_duration_seconds_count{function="f"} 3.0',
                 'faas_cold_starts_total{function="f",path="image"} 1.0',
                 'faas_cold_starts_total{function="f",path="cell"} 1.0',
                 'faas_container_starts_total{function="f",path="image",reason="demand"} 1.0',
                 'faas_container_starts_total{function="f",path="cell",reason="reserved"} 1.0',
                 'faas_builds_total{status="ready"} 1.0',
                 'faas_trigger_invocations_total{function="f",type="http"} 1.0',
                 "# TYPE faas_invocations_total counter"):
        assert line in text.splitlines(), line
    assert "_created" not in text  # no series beyond the documented names


def test_scrape_time_families():
    pool = [SimpleNamespace(function="f", state=s) for s in (ContainerState.READY, ContainerState.READY,
                                                            ContainerState.BUSY)]
    stats = AsyncStats(ended={("succeeded", "Success"): 4, ("failed", "RetriesExhausted"): 1},
                       retries={"function_error": 3}, ready=2, delayed=1, inflight=5, pending=8,
                       oldest_pending_age=12.5, workers=2)
    lines = Metrics().render(container_families(pool), async_families(stats)).decode().splitlines()
    for line in ('faas_containers{function="f",state="Busy"} 1.0',
                 'faas_containers{function="f",state="Ready"} 2.0',
                 'faas_async_events_total{condition="Success",status="succeeded"} 4.0',
                 'faas_async_events_total{condition="RetriesExhausted",status="failed"} 1.0',
                 'faas_async_retries_total{kind="function_error"} 3.0',
                 'faas_async_queue_depth{queue="ready"} 2.0',
                 'faas_async_queue_depth{queue="inflight"} 5.0',
                 "faas_async_pending_events 8.0",
                 "faas_async_oldest_pending_age_seconds 12.5",
                 "faas_async_workers 2.0"):
        assert line in lines, line


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_activity_counts_each_functions_last_hour():
    clock = Clock()
    activity = Activity(window_s=3600, clock=clock)
    activity.cold_start("a")
    activity.invocation("a", error=False)
    activity.invocation("a", error=True)
    clock.now += 1800
    activity.invocation("a", error=False)
    activity.invocation("b", error=False)
    (a, b) = activity.snapshot()
    assert a == {"functionName": "a", "invocations": 3, "errors": 1, "errorRate": 0.3333, "coldStarts": 1,
                 "lastInvocationAt": clock.now}
    assert (b["functionName"], b["invocations"], b["errorRate"]) == ("b", 1, 0.0)
    clock.now += 1830  # the first minute's counts leave the window
    (a, _) = activity.snapshot()
    assert (a["invocations"], a["errors"], a["coldStarts"]) == (1, 0, 0)
    clock.now += 3600  # nothing in the window: zero, no rate, but the last invocation is still known
    (a, _) = activity.snapshot()
    assert (a["invocations"], a["errorRate"], a["lastInvocationAt"]) == (0, None, 1_001_800.0)


def test_activity_keeps_at_most_an_hour_of_buckets_and_forgets_idle_functions():
    clock = Clock()
    activity = Activity(window_s=3600, clock=clock)
    for _ in range(300):  # five hours, one invocation a minute
        activity.invocation("busy", error=False)
        clock.now += 60
    assert len(activity._functions["busy"]["minutes"]) <= 60
    assert activity.snapshot()[0]["invocations"] == 59  # the minutes of the last hour but this one, just begun
    for i in range(65537):
        activity._functions[f"f{i}"] = {"last": 0.0, "minutes": {}}
    activity.invocation("new", error=False)
    assert set(activity._functions) == {"busy", "new"}


def test_invocation_counts_render_as_prometheus_clients_counter_and_histogram_would():
    """The invocation counts are kept in plain lists and made into families when scraped: the same lines as
    prometheus-client's own Counter and Histogram fed the same calls (bounds exactly, past the last, zero)."""
    import random

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from faas.metrics import DURATION_BUCKETS, InvocationCounts

    rng = random.Random(7)
    calls = [(rng.choice("fgh"), rng.choice(("success", "handled_error")), seconds)
             for seconds in [*DURATION_BUCKETS, 0.0, 61.0, 1e9] + [rng.uniform(0, 70) for _ in range(500)]]
    ours = CollectorRegistry(auto_describe=False)
    counts = InvocationCounts()
    ours.register(counts)
    theirs = CollectorRegistry()
    counter = Counter("faas_invocations", "Invocations by function and outcome.", ("function", "outcome"),
                      registry=theirs)
    histogram = Histogram("faas_invocation_duration_seconds", "Invocation time seen by the platform.", ("function",),
                          buckets=DURATION_BUCKETS, registry=theirs)
    for function, outcome, seconds in calls:
        counts.add(function, outcome, seconds)
        counter.labels(function, outcome).inc()
        histogram.labels(function).observe(seconds)

    def lines(registry):
        return sorted(line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#"))

    assert lines(ours) == lines(theirs)
