"""The cost of size, idle queue triggers first (issue 30): Redis commands a second and the control plane's CPU while
N queue triggers wait on empty queues, and the messages a second one busy trigger among them delivers end to end,
beside the same figures with one, measured in the same run."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from launch import Up

from .common import NOOP, cpu_seconds, deploy, percentile, rss_kb, wait_until

BUSY_MESSAGES = 2000
"""Messages the busy trigger takes, in batches of 10."""

SETTLE_S = 3.0
"""Seconds after the triggers are made before measuring (the poller's first rounds make each trigger's group)."""


def _idle_costs(platform: Up, seconds: float) -> tuple[float, float]:
    """(Redis commands a second, the control plane's share of one core) over `seconds` with nothing published."""
    conn, pid = platform.redis(), platform.child("faas.server")
    commands0, cpu0, t0 = conn.info("stats")["total_commands_processed"], cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    commands = conn.info("stats")["total_commands_processed"] - commands0
    return commands / elapsed, (cpu_seconds(pid) - cpu0) / elapsed


def _make_triggers(platform: Up, count: int, per_function: int = 10) -> list[str]:
    """`count` queue triggers, each on a queue of its own, spread over functions (10 triggers each at most)."""
    functions = []
    for i in range(count):
        if i % per_function == 0:
            name = f"bench-scale-{i // per_function}"
            deploy(platform, name)
            functions.append(name)
        platform.http.post(f"{platform.url}/v1/functions/{functions[-1]}/triggers",
                           json={"triggerName": f"q{i}", "triggerType": "queue",
                                 "triggerConfig": {"queueName": f"bench-idle-{i}"}}).raise_for_status()
    return functions


def _busy_rate(platform: Up, queue: str) -> float:
    """Messages a second one trigger delivers and its function ends, from BUSY_MESSAGES waiting in its queue."""
    for i in range(BUSY_MESSAGES):
        platform.http.post(f"{platform.url}/v1/queues/{queue}/messages", data=f"m{i}").raise_for_status()
    deploy(platform, "bench-scale-busy", NOOP)
    t0 = time.monotonic()
    platform.http.post(f"{platform.url}/v1/functions/bench-scale-busy/triggers",
                       json={"triggerName": "busy", "triggerType": "queue",
                             "triggerConfig": {"queueName": queue, "batchSize": 10,
                                               "startFrom": "earliest"}}).raise_for_status()

    def drained() -> bool:
        got = platform.http.get(f"{platform.url}/v1/functions/bench-scale-busy/triggers/busy").json()
        return got["backlog"] == {"pending": 0, "lag": 0}

    wait_until(drained, 600, "the busy queue drained")
    elapsed = time.monotonic() - t0
    platform.http.delete(f"{platform.url}/v1/functions/bench-scale-busy")
    return BUSY_MESSAGES / elapsed


def bench_idle_queues(platform: Up, count: int, seconds: int) -> None:
    rows = []
    for size in (1, count):
        functions = _make_triggers(platform, size)
        time.sleep(SETTLE_S)
        rows.append((size, *_idle_costs(platform, seconds), _busy_rate(platform, f"bench-busy-{size}")))
        for name in functions:
            platform.http.delete(f"{platform.url}/v1/functions/{name}")
    print(f"Idle queue triggers: Redis commands/s and the control plane's CPU over {seconds} s, nothing published; "
          f"then one busy trigger among them delivers {BUSY_MESSAGES} messages (batches of 10) to a no-op function")
    for size, commands, cpu, rate in rows:
        print(f"  {size:5d} trigger(s)   {commands:9.0f} Redis commands/s   control plane {cpu * 100:5.1f}% of a core"
              f"   busy one: {rate:6.0f} messages/s"
              + ("   (baseline)" if size == 1 else "   (target: poller <= 5% of a core, messages/s unchanged)"))


def _warm_p50_us(platform: Up, path: str, calls: int = 2000) -> float:
    """p50 of `calls` warm invocations in a row on one keep-alive connection (the client's own time included, the
    same at every size)."""
    url = f"{platform.url}/v1/functions/{path}"
    platform.http.post(url).raise_for_status()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        platform.http.post(url).raise_for_status()
        times.append(time.perf_counter() - t0)
    return percentile(times, 50) * 1e6


def _list_p50_ms(platform: Up, calls: int = 50, **params) -> tuple[float, int]:
    """p50 of GET /v1/functions with `params`, and the functions the first page held."""
    times, count = [], 0
    for _ in range(calls):
        t0 = time.perf_counter()
        resp = platform.http.get(f"{platform.url}/v1/functions", params=params)
        times.append(time.perf_counter() - t0)
        resp.raise_for_status()
        count = len(resp.json()["functions"])
    return percentile(times, 50) * 1e3, count


def bench_many_functions(platform: Up, count: int) -> None:
    """What `count` deployed functions cost beside one: the control plane's and Redis's memory per function, a
    page of GET /v1/functions, and a warm invocation of one of them."""
    conn, pid = platform.redis(), platform.child("faas.server")
    rows: list[tuple[int, float, float, float, float]] = []
    took: list[float] = []

    def timed_deploy(i: int) -> None:
        t0 = time.perf_counter()
        deploy(platform, f"bench-many-{i}")
        took.append(time.perf_counter() - t0)

    for size in (1, count):
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(timed_deploy, range(1 if rows else 0, size)))
        time.sleep(SETTLE_S)
        listed, _ = _list_p50_ms(platform, limit=100)
        rows.append((size, rss_kb(pid) / 1024, conn.info("memory")["used_memory"] / 2 ** 20, listed,
                     _warm_p50_us(platform, "bench-many-0/invocations")))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: platform.http.delete(f"{platform.url}/v1/functions/bench-many-{i}"), range(count)))
    (one, rss1, redis1, list1, warm1), (_, rss, used, listed, warm) = rows
    per = count - one
    print(f"{count} functions deployed (the same no-op code) beside one")
    print(f"  control plane RSS {rss:7.1f} MB ({(rss - rss1) * 1024 / per:6.1f} KB a function)   one: {rss1:.1f} MB")
    print(f"  Redis used memory {used:7.1f} MB ({(used - redis1) * 1024 / per:6.1f} KB a function)   "
          f"one: {redis1:.1f} MB")
    print(f"  deploying (4 at once): p50 {percentile(took[:100], 50) * 1000:6.0f} ms for the first 100, "
          f"{percentile(took[-100:], 50) * 1000:6.0f} ms for the last 100")
    print(f"  GET /v1/functions?limit=100 p50 {listed:6.2f} ms   one: {list1:.2f} ms")
    print(f"  warm invocation p50 {warm:6.0f} µs   one: {warm1:.0f} µs   (target: within 10%)")


TIMER_RECORDER = """import json, time
def handler(event, context):
    return {"at": time.time(), "due": json.loads(event)["triggerTime"]}
"""


def _timer_delays(platform: Up, count: int, cron: str, firings: int) -> tuple[list[float], list[float], float]:
    """`count` timers on `cron` (10 to a function, which takes 10 calls at once) until `firings` handlers ran: the
    delays from each firing's scheduled time to its event's acceptance and to its handler's start, and the control
    plane's share of a core meanwhile."""
    conn, pid = platform.redis(), platform.child("faas.server")
    functions = [f"bench-timers-{i}" for i in range(max(1, count // 10))]
    for name in functions:
        deploy(platform, name, TIMER_RECORDER, instanceConcurrency=10, **{"async": {"onSuccess": "queue:bench-timers"}})
        platform.http.post(f"{platform.url}/v1/functions/{name}/invocations").raise_for_status()  # warm
    conn.delete("faas:queue:bench-timers")
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    for i in range(count):
        platform.http.post(f"{platform.url}/v1/functions/{functions[i // 10]}/triggers",
                           json={"triggerName": f"t{i}", "triggerType": "timer",
                                 "triggerConfig": {"cronExpression": cron}}).raise_for_status()
    wait_until(lambda: conn.xlen("faas:queue:bench-timers") >= firings, 240, f"{firings} timer firings")
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    for name in functions:
        platform.http.delete(f"{platform.url}/v1/functions/{name}")
    accepted, started = [], []
    for _, fields in conn.xrange("faas:queue:bench-timers", count=firings):
        record = json.loads(fields[b"record"])
        result = json.loads(record["responsePayload"])
        due = datetime.strptime(result["due"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        event = platform.http.get(f"{platform.url}/v1/invocations/{record['requestContext']['requestId']}").json()
        accepted.append(event["acceptedAt"] - due)
        started.append(result["at"] - due)
    conn.delete("faas:queue:bench-timers")
    return accepted, started, cpu


def bench_many_timers(platform: Up, count: int) -> None:
    """`count` timers due in the same second of a minute beside one timer each second."""
    rows = [("one timer '@every 1s'", *_timer_delays(platform, 1, "@every 1s", 60)),
            (f"{count} timers at :00", *_timer_delays(platform, count, "0 * * * * *", count))]
    print(f"{count} timer triggers due in the same second (one firing each), beside one timer firing each second "
          "(60 firings): from the scheduled time to the event's acceptance (the firing) and to the handler's start")
    for label, accepted, started, cpu in rows:
        print(f"  {label:<22} firing p50 {percentile(accepted, 50) * 1000:7.1f} ms  p99 "
              f"{percentile(accepted, 99) * 1000:7.1f} ms   handler start p50 {percentile(started, 50) * 1000:7.1f} ms"
              f"  p99 {percentile(started, 99) * 1000:7.1f} ms   control plane {cpu * 100:5.1f}% of a core")
    print("  (target: firing p99 <= 1 s)")


def bench_many_versions(platform: Up, versions: int, aliases: int) -> None:
    """A warm invocation of a function with `versions` versions and `aliases` aliases, beside one with one each."""
    rows = []
    for name, size in (("bench-versions-1", 1), (f"bench-versions-{versions}", versions)):
        deploy(platform, name)
        base = f"{platform.url}/v1/functions/{name}"
        for i in range(size):
            platform.http.put(base, json={"environment": {"N": str(i)}}).raise_for_status()
            platform.http.post(f"{base}/versions", json={}).raise_for_status()
        for i in range(min(size, aliases)):
            platform.http.post(f"{base}/aliases", json={"aliasName": f"a{i}", "versionId": str(size - i)}
                               ).raise_for_status()
        rows.append((size, _warm_p50_us(platform, f"{name}/invocations"),
                     _warm_p50_us(platform, f"{name}/invocations?qualifier=a0")))
        platform.http.delete(base)
    print(f"A function with {versions} versions and {aliases} aliases beside one with one of each: warm p50")
    for size, latest, alias in rows:
        print(f"  {size:4d} version(s)   LATEST {latest:6.0f} µs   through an alias {alias:6.0f} µs"
              + ("   (baseline)" if size == 1 else "   (target: unchanged)"))
