"""Redis key names of the async machinery. Documented: direct consumers may read destination streams.

| key | type | holds |
|---|---|---|
| `{prefix}:inv:{requestId}` | hash | one event and its record: status, attempts, result, timestamps (1) |
| `{prefix}:async:pending` | sorted set | every event not yet ended, scored by acceptance time |
| `{prefix}:async:ready` | list | events to run now |
| `{prefix}:async:delayed` | sorted set | events waiting for a retry, scored by when it is due |
| `{prefix}:async:inflight:{worker}` | list | events a worker process holds |
| `{prefix}:async:worker:{worker}` | string with TTL | the worker's lease; gone means the worker died |
| `{prefix}:async:workers` | set | worker ids that have held events |
| `{prefix}:async:drain` | string with TTL | set while drain jobs are queued or running |
| `{prefix}:async:recent:{function}` | sorted set | the function's newest async events, for listings (3) |
| `{prefix}:async:stats` | hash | counters for /metrics: `ended:{status}:{condition}`, `retry:{kind}` |
| `{prefix}:queue:{name}` | stream | queue `queue:{name}`: one entry per message (2) |
| `{prefix}:queues` | set | names of the queues written to, for the limit on all queues' memory |

(1) and `trigger` (`<type>/<name>`) when a trigger caused it; `ackStream`, `ackGroup` and `ackIds` when it
carries a queue trigger's batch, whose messages are acknowledged when it ends.
(2) field `record` (a destination's JSON record) or `body` (a published message); queue triggers read it
through a consumer group each.
(3) ids (at most ASYNC_RECENT) scored by acceptance time; written beside the event, or right after it where a
Lua script stores the event; an id whose record expired is dropped when a listing meets it, and the set
expires RECENT_TTL_S after its last write. Nothing in an event's life depends on it.
"""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.pending = f"{prefix}:async:pending"
        self.ready = f"{prefix}:async:ready"
        self.delayed = f"{prefix}:async:delayed"
        self.workers = f"{prefix}:async:workers"
        self.drain = f"{prefix}:async:drain"
        self.stats = f"{prefix}:async:stats"
        self.queues = f"{prefix}:queues"
        self.rq_queue = f"{prefix}-async"
        """Name of the RQ queue that carries drain jobs."""

    def invocation(self, request_id: str) -> str:
        return f"{self.prefix}:inv:{request_id}"

    def recent(self, function: str) -> str:
        return f"{self.prefix}:async:recent:{function}"

    def inflight(self, worker: str) -> str:
        return f"{self.prefix}:async:inflight:{worker}"

    def lease(self, worker: str) -> str:
        return f"{self.prefix}:async:worker:{worker}"

    def destination(self, name: str) -> str:
        return f"{self.prefix}:queue:{name}"
