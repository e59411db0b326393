"""Waking the async workers: the one piece of RQ the control plane needs (it never imports the runner)."""

from __future__ import annotations

import redis
from rq import Queue, Worker

from .keys import Keys

DRAIN_TOKEN_TTL_S = 10
"""Seconds the drain token lives unless a running drain refreshes it."""

DRAIN_JOB = "faas.queue.runner.drain"
"""The RQ job a worker runs to drain ready events (its name is stored with each queued job: keep it)."""


def kick(conn: redis.Redis, keys: Keys) -> int:
    """Make sure drain jobs will run: when none is queued or running, enqueue one per live worker."""
    if not conn.set(keys.drain, "1", nx=True, ex=DRAIN_TOKEN_TTL_S):
        return 0
    queue = Queue(keys.rq_queue, connection=conn)
    count = max(1, Worker.count(queue=queue))
    queue.enqueue_many([Queue.prepare_data(DRAIN_JOB, result_ttl=0, failure_ttl=3600, timeout=-1,
                                           description="faas: run ready async events")
                        for _ in range(count)])
    return count
