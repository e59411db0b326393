"""The cost of size, idle queue triggers first (issue 30): Redis commands a second and the control plane's CPU while
N queue triggers wait on empty queues, and the messages a second one busy trigger among them delivers end to end,
beside the same figures with one, measured in the same run."""

from __future__ import annotations

import os
import time
from pathlib import Path

from launch import Up

from .common import NOOP, deploy, wait_until

BUSY_MESSAGES = 2000
"""Messages the busy trigger takes, in batches of 10."""

SETTLE_S = 3.0
"""Seconds after the triggers are made before measuring (the poller's first rounds make each trigger's group)."""


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_costs(platform: Up, seconds: float) -> tuple[float, float]:
    """(Redis commands a second, the control plane's share of one core) over `seconds` with nothing published."""
    conn, pid = platform.redis(), platform.child("faas.server")
    commands0, cpu0, t0 = conn.info("stats")["total_commands_processed"], _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    commands = conn.info("stats")["total_commands_processed"] - commands0
    return commands / elapsed, (_cpu_seconds(pid) - cpu0) / elapsed


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
