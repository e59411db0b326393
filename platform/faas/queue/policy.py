"""Retry decisions as plain functions: what an attempt's answer means, and how long to wait. No I/O.

The waits are computed here and kept in Redis (the `delayed` set), not slept: an event's next attempt may
run in another worker process, after a restart. So the backoff is written as a formula, not as a tenacity
`Retrying`, which sleeps in the process that failed (the workers use tenacity where that is what they want:
retrying a Redis call in place).
"""

from __future__ import annotations

import random
from enum import Enum


class EventStatus(str, Enum):
    """An async event's status in its record (`status`) and in the API."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    """Stopped at its caller's request (StopAsyncTask): never run again, sent to no destination."""


STOPPING = "stopping"
"""What the API shows for an event not yet ended whose stop was asked for: a worker ends it as stopped when it
next takes it (at once unless it is running; a running attempt is not cut short and, if it succeeds, stands)."""

API_STATUSES = ("queued", "running", "retrying", STOPPING, "succeeded", "failed", "stopped")
"""Every status the API shows, in the order of an event's life."""

TERMINAL = frozenset({EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.STOPPED})
"""Statuses an event ends in (a str compares equal to its member, so a decoded field can be looked up)."""


class Kind(str, Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function_error"
    """The function raised, crashed, timed out or ran out of memory: counted against async.retries."""
    SYSTEM_ERROR = "system_error"
    """The platform could not run it (no capacity, start failure, control plane unreachable): retried
    with backoff, without limit unless maxEventAgeSeconds is set."""
    FATAL = "fatal"
    """It can never run (the function is gone, the event is refused): no retry."""


class Condition(str, Enum):
    """requestContext.condition of a destination record."""

    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    FUNCTION_NOT_FOUND = "FunctionNotFound"
    REJECTED = "Rejected"
    STOPPED = "Stopped"


def classify(status: int | None, error_header: str | None) -> Kind:
    """What the control plane's answer to one attempt means. `status` None: no answer at all."""
    if status is None or status in (409, 429) or status >= 500:  # 409: the same event runs elsewhere now
        return Kind.SYSTEM_ERROR
    if status == 200:
        return Kind.FUNCTION_ERROR if error_header else Kind.SUCCESS
    return Kind.FATAL


def function_retry_delay(failures: int, base: float) -> float:
    """Wait before the next attempt after `failures` function errors: base, 2 base, 4 base..."""
    return base * 2 ** max(0, failures - 1)


def system_retry_delay(retries: int, initial: float, max_wait: float) -> float:
    """Wait before system retry number `retries` (1-based): exponential from `initial`, plus up to
    `initial` of jitter, capped at `max_wait`."""
    exponent = min(max(1, retries) - 1, 64)  # 2**64 s is past any cap: no float overflow however many
    return min(max_wait, initial * 2 ** exponent + random.uniform(0, initial))


def expired(accepted_at: float, max_age: float | None, now: float) -> bool:
    """True when an event is older than maxEventAgeSeconds (None: never)."""
    return max_age is not None and now - accepted_at > max_age
