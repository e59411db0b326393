"""Triggers beside the invoke API or async invocations of the same function: an HTTP trigger's warm requests, a
timer's firing delay, a queue trigger's messages/s."""

from __future__ import annotations

import json
import signal
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from launch import Up

from .common import deploy, row, wait_until
from .wrk import wrk


def bench_http_trigger(platform: Up, seconds: int) -> None:
    """An HTTP trigger beside the invoke API: the same no-op function, the same container, the same token."""
    name = "bench-http"
    deploy(platform, name, instanceConcurrency=16, maxInstances=1)
    platform.http.post(f"{platform.url}/v1/functions/{name}/triggers",
                       json={"triggerName": "web", "triggerType": "http"}).raise_for_status()
    api_url = f"{platform.url}/v1/functions/{name}/invocations"
    trigger_url = f"{platform.url}/function/{name}/path"
    auth = {"Authorization": f"Bearer {platform.token}"}
    platform.http.post(api_url).raise_for_status()
    wrk(api_url, 1, 2, auth)
    wrk(trigger_url, 1, 2, auth)
    runs: dict[str, list[dict]] = {"api1": [], "trig1": [], "api16": [], "trig16": []}
    pairs = 8
    each = max(2, seconds // 3)
    for _ in range(pairs):  # alternated, so that both see the same noise; the ratio is taken pair by pair
        runs["api1"].append(wrk(api_url, 1, each, auth))
        runs["trig1"].append(wrk(trigger_url, 1, each, auth))
        runs["api16"].append(wrk(api_url, 16, each, auth))
        runs["trig16"].append(wrk(trigger_url, 16, each, auth))
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    p50 = {k: statistics.median(r["p50"] for r in v) * 1e6 for k, v in runs.items()}
    rps = {k: statistics.median(r["rps"] for r in v) for k, v in runs.items()}
    ratios = sorted(t["rps"] / a["rps"] for t, a in zip(runs["trig16"], runs["api16"]))
    print(f"HTTP trigger beside the invoke API (no-op function, one container, wrk, {pairs} alternated pairs of "
          f"{each} s; medians)")
    print(f"  1 connection    trigger p50 {p50['trig1']:6.0f} us   |   invoke API p50 {p50['api1']:6.0f} us")
    print(f"  16 connections  trigger {rps['trig16']:7.0f} req/s   |   invoke API {rps['api16']:7.0f} req/s   |   "
          f"{statistics.median(ratios) * 100:.0f}% of it (pairs: {', '.join(f'{r * 100:.0f}%' for r in ratios)})"
          "   (target: >= 95%)")


TIMER_RECORDER = "import time\ndef handler(event, context):\n    return {'at': time.time(), 'event': event.decode()}\n"


def bench_timer(platform: Up, firings: int) -> None:
    """How late timer firings start their handler, beside how late async invocations start theirs."""
    conn = platform.redis()
    name = "bench-timer"
    deploy(platform, name, TIMER_RECORDER, **{"async": {"onSuccess": "queue:bench-timer"}})
    url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(url).raise_for_status()  # warm: the delay measured is the platform's, not a cold start
    conn.delete("faas:queue:bench-timer")

    def records() -> list[dict]:
        return [json.loads(fields[b"record"]) for _, fields in conn.xrange("faas:queue:bench-timer")]

    # Baseline: async invocations one a second, their start minus their acceptance.
    accepted = []
    for _ in range(firings):
        t0 = time.time()
        platform.http.post(url, data=b"async", headers={"X-Fc-Invocation-Type": "Async"}).raise_for_status()
        accepted.append(t0)
        time.sleep(1.0)
    wait_until(lambda: len(records()) >= firings, 120, "the async baseline")
    ran = sorted(json.loads(r["responsePayload"])["at"] for r in records())
    async_delays = [r - a for r, a in zip(ran, accepted)]
    conn.delete("faas:queue:bench-timer")
    platform.http.post(f"{platform.url}/v1/functions/{name}/triggers",
                       json={"triggerName": "tick", "triggerType": "timer",
                             "triggerConfig": {"cronExpression": "@every 1s"}}).raise_for_status()
    wait_until(lambda: len(records()) >= firings, firings + 60, f"{firings} firings")
    platform.http.delete(f"{platform.url}/v1/functions/{name}/triggers/tick")
    delays = []
    for record in records()[:firings]:
        result = json.loads(record["responsePayload"])
        # triggerTime is in faas.triggers.model.iso_utc's format
        scheduled = time.mktime(time.strptime(json.loads(result["event"])["triggerTime"], "%Y-%m-%dT%H:%M:%SZ"))
        delays.append(result["at"] - (scheduled - time.timezone))
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    print(f"Timer trigger '@every 1s': {len(delays)} firings, the handler's start minus the scheduled time")
    print(row("timer firing delay", delays) + "   (target: p99 <= 500 ms)")
    print(row(f"async accept-to-start ({len(async_delays)} events)", async_delays) + "   (baseline)")


QUEUE_CONSUMER = "import json\ndef handler(event, context):\n    return str(len(json.loads(event)))\n"


def bench_queue_trigger(platform: Up, messages: int) -> None:
    """Messages/s through a queue trigger (batch 1 and 10), beside async invocations of the same function."""
    conn = platform.redis()
    name = "bench-queue"
    deploy(platform, name, QUEUE_CONSUMER, instanceConcurrency=32, maxInstances=2)
    url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(url, data=b"[]").raise_for_status()
    results = []
    for batch, count in ((1, messages), (10, messages * 5)):
        queue = f"bench-q{batch}"
        with conn.pipeline(transaction=False) as pipe:
            for i in range(count):
                pipe.xadd(f"faas:queue:{queue}", {"body": f"message {i}"})
            pipe.execute()
        t0 = time.perf_counter()
        platform.http.post(f"{platform.url}/v1/functions/{name}/triggers",
                           json={"triggerName": f"b{batch}", "triggerType": "queue",
                                 "triggerConfig": {"queueName": queue, "batchSize": batch,
                                                   "startFrom": "earliest"}}).raise_for_status()

        def drained(batch=batch) -> bool:
            t = platform.http.get(f"{platform.url}/v1/functions/{name}/triggers/b{batch}").json()
            return t["backlog"] == {"pending": 0, "lag": 0}

        wait_until(drained, 900, f"{count} messages through batch {batch}")
        results.append((batch, count, count / (time.perf_counter() - t0)))
        platform.http.delete(f"{platform.url}/v1/functions/{name}/triggers/b{batch}")
        conn.delete(f"faas:queue:{queue}")
    # Baseline: the same number of async invocations of the same function, accepted first, then run.
    platform.signal_workers(signal.SIGSTOP)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: platform.http.post(url, data=b"[0]", headers={"X-Fc-Invocation-Type": "Async"}),
                      range(messages)))
    t0 = time.perf_counter()
    platform.signal_workers(signal.SIGCONT)
    wait_until(lambda: conn.zcard("faas:async:pending") == 0, 900, "the async baseline")
    base = messages / (time.perf_counter() - t0)
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    print("Queue trigger: messages/s from the trigger's creation on a preloaded queue until all are acknowledged")
    for batch, count, rate in results:
        target = 300 if batch == 1 else 1500
        print(f"  batchSize {batch:<3} {count:6d} messages: {rate:7.0f} messages/s   (target >= {target})")
    print(f"  baseline: {messages} async invocations of the same function run by the same workers: {base:7.0f}/s")
