"""The logs' memory in Redis: per quiet and per printing invocation, and all logs' after many, beside the cap."""

from __future__ import annotations

import time
import uuid

from launch import Up

from .common import NOOP, deploy
from .wrk import wrk_count


def bench_logs(platform: Up, invocations: int) -> None:
    """Redis memory per invocation, quiet and printing, and the log memory after many invocations."""
    conn = platform.redis()
    auth = {"Authorization": f"Bearer {platform.token}"}
    cap = 256 << 20  # FAAS_LOG_MAX_MB's default, which scripts/up uses

    def log_bytes() -> int:
        names = [k.decode() for k in conn.scan_iter("faas:logs:fn:*", count=1000)]
        inv = sum(int(v) for v in conn.hvals("faas:logs:usage"))
        return inv + sum(conn.memory_usage(n, samples=0) or 0 for n in names)

    print(f"Logs in Redis (scripts/up's Redis; about {invocations} invocations each, wrk 16 connections)")
    for label, source in (("no-op (prints nothing)", NOOP),
                          ("prints one 60-byte line", "def handler(event, context):\n    print('x' * 60)\n"
                                                     "    return ''\n")):
        name = "bench-logs-" + uuid.uuid4().hex[:6]
        deploy(platform, name, source, instanceConcurrency=16, maxInstances=1)
        url = f"{platform.url}/v1/functions/{name}/invocations"
        platform.http.post(url).raise_for_status()
        time.sleep(6.0)
        before, keys_before = conn.info("memory")["used_memory"], conn.dbsize()
        done, t0 = 0, time.perf_counter()
        while done < invocations:
            done += wrk_count(url, 16, max(2, min(30, int((invocations - done) / 2500) + 1)), auth)
        took = time.perf_counter() - t0
        time.sleep(6.0)  # REPORT lines flushed, a budget pass done
        grown, keys = conn.info("memory")["used_memory"] - before, conn.dbsize() - keys_before
        print(f"  {label:<26} {done:8d} invocations in {took:5.1f} s: Redis +{grown / 1e6:6.2f} MB = "
              f"{grown / done:6.1f} B/invocation, +{keys} keys; per 100,000: {grown / done * 1e5 / 1e6:5.2f} MB"
              + ("   (target <= 4 MB)" if source == NOOP else ""))
        print(f"  {'':<26} all logs then: {log_bytes() / 1e6:.2f} MB (FAAS_LOG_MAX_MB cap {cap / 1e6:.0f} MB)")
        platform.http.delete(f"{platform.url}/v1/functions/{name}")
