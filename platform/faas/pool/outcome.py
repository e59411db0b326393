"""What an invocation gave, as the pool answers it: the body, and whether (and how) the function failed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .instance import Instance

HANDLED = "HandledInvocationError"
UNHANDLED = "UnhandledInvocationError"

KILLED = "ContainerKilled"
"""errorType of an invocation whose container was killed or removed from outside the platform meanwhile."""


@dataclass(frozen=True)
class Outcome:
    """What an invocation gave: the body to return, and whether (and how) the function failed."""

    body: bytes
    content_type: str
    error: str | None = None
    """None, HandledInvocationError or UnhandledInvocationError."""
    error_type: str | None = None
    cold_start: bool = False
    instance_id: str = ""
    report: str = ""
    """Its REPORT line."""
    quiet: bool = False
    """It printed nothing: its log is the REPORT line alone."""

    @classmethod
    def failure(cls, error_type: str, message: str, **kw) -> "Outcome":
        body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []}).encode()
        return cls(body=body, content_type="application/json", error=UNHANDLED, error_type=error_type, **kw)


NOT_DELIVERED = Outcome.failure("NotDelivered", "the container had stopped before the request reached it")
"""The outcome of a call that never reached the function: it is offered to another container."""


@dataclass
class Lease:
    """A container held for one call: an invocation the pool makes, or a request its holder sends itself
    (a web function's HTTP request)."""

    instance: Instance
    cold_start: bool
    started: float = 0.0
    """time.monotonic() when the call began, and `ended` when the container was released."""
    ended: float = 0.0
    error: str | None = None
    """Set by the holder: UNHANDLED when the container failed the call (it is then removed)."""


class InitFailed(Exception):
    """A new container's initializer failed: the invocation that waited for it gets `outcome`."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.error_type)
        self.outcome = outcome


def error_type(body: bytes) -> str | None:
    """The errorType a runtime's error document names, if it is one."""
    try:
        value = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
