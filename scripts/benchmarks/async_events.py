"""Async invocations: events/s accepted by the API, events/s completed by scripts/up's workers beside RQ's stock
forking Worker, and a loss check with worker processes killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue

from launch import Up

from .common import deploy, wait_until
from .wrk import requests_per_second, run_wrk


def bench_async(platform: Up, seconds: int) -> None:
    name = "bench-async"
    deploy(platform, name, instanceConcurrency=32, maxInstances=2, **{"async": {"onSuccess": "queue:bench-ok"}})
    url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(url).raise_for_status()
    conn = platform.redis()
    log = open(platform.var / "workers.log", "ab")

    def pending() -> int:
        return conn.zcard("faas:async:pending")

    def submit(count: int) -> list[str]:
        session = platform.http
        return [session.post(url, data=b"e", headers={"X-Fc-Invocation-Type": "Async"}).json()["requestId"]
                for _ in range(count)]

    # 1. Accept, with scripts/up's workers stopped (SIGSTOP): the API alone.
    platform.signal_workers(signal.SIGSTOP)
    out = run_wrk(url, 16, seconds, {"X-Fc-Invocation-Type": "Async", "Authorization": f"Bearer {platform.token}"},
                  body="e")
    accepted_rps = requests_per_second(out)
    backlog = pending()
    # 2. That backlog, run by scripts/up's workers (FAAS_WORKERS, 2 by default) once they go on.
    t0 = time.perf_counter()
    platform.signal_workers(signal.SIGCONT)
    wait_until(lambda: pending() == 0, 600, f"{backlog} events to complete")
    ours = time.perf_counter() - t0
    platform.signal_workers(signal.SIGSTOP)
    # 3. The baseline: RQ's stock forking Worker, one job per event, 2 processes, on fresh events.
    base_n = 1000
    submit(base_n)
    queue = Queue("bench-baseline", connection=conn)
    queue.enqueue_many([Queue.prepare_data("faas.queue.runner.run_one_event", result_ttl=0)
                        for _ in range(base_n)])
    rq_bin = str(Path(sys.executable).with_name("rq"))
    conn.delete("faas:async:drain")
    conn.set("faas:async:drain", "1")  # keep drain jobs out of it: the baseline runs one job per event
    t0 = time.perf_counter()
    baseline_procs = [subprocess.Popen([rq_bin, "worker", "--burst", "--url", platform.redis_url(),
                                        "--logging_level", "WARNING", "bench-baseline"],
                                       env=platform.env | {"FAAS_REDIS_URL": platform.redis_url()}, stdout=log,
                                       stderr=log) for _ in range(2)]
    wait_until(lambda: pending() == 0, 600, "the baseline to complete")
    base = time.perf_counter() - t0
    for proc in baseline_procs:
        proc.wait(timeout=120)
    conn.delete("faas:async:drain")
    platform.signal_workers(signal.SIGCONT)
    ours_rps, base_rps = backlog / ours, base_n / base
    print("Async invocations of a no-op function")
    print(f"  accepted by the API (wrk, 16 connections, {seconds} s): {accepted_rps:7.0f} events/s   (target >= 1000)")
    print(f"  completed end to end by scripts/up's 2 workers:   {ours_rps:7.0f} events/s ({backlog} events)")
    print(f"  completed by RQ's forking Worker, 2 processes:    {base_rps:7.0f} events/s ({base_n} events)")
    print(f"  ratio: {ours_rps / base_rps:.1f}x   (target: >= 250 events/s and >= 5x)")

    # 4. Loss check: 2,000 events, a worker process of scripts/up killed with SIGKILL twice while they run.
    conn.delete("faas:queue:bench-ok")
    platform.signal_workers(signal.SIGSTOP)
    ids = submit(2000)
    platform.signal_workers(signal.SIGCONT)
    kills = 0
    for fraction in (0.66, 0.33):
        wait_until(lambda f=fraction: pending() <= 2000 * f, 600, "progress")
        children = platform.workers()[1:]
        if children:
            os.kill(children[0], signal.SIGKILL)
            kills += 1
    wait_until(lambda: pending() == 0, 600, "the loss check to complete")
    statuses: dict[bytes, int] = {}
    attempts = 0
    for rid in ids:
        status, tries = conn.hmget(f"faas:inv:{rid}", "status", "attempts")
        statuses[status] = statuses.get(status, 0) + 1
        attempts += int(tries or 0)
    delivered = conn.xlen("faas:queue:bench-ok")
    print(f"  loss check: 2000 events, {kills} worker kills: {dict((k.decode(), v) for k, v in statuses.items())}, "
          f"{delivered} records in queue:bench-ok, {attempts - 2000} duplicate executions")
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
