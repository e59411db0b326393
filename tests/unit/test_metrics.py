"""The /metrics exposition: names and shapes as documented (prometheus-client renders them)."""

from types import SimpleNamespace

from faas.metrics import AsyncStats, Metrics, async_families, container_families
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
