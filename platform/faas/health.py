"""What /healthz says of the platform's own parts beyond Redis and Docker: a part that keeps failing (cells
that do not start or cannot be given code, a network that cannot be set up again) makes it `degraded`."""

from __future__ import annotations

FAILURES_DEGRADED = 3
"""Failures in a row after which a part is reported degraded (one success clears them)."""


class Health:
    """Failures in a row of one part, and the last one's reason."""

    def __init__(self, part: str):
        self.part = part
        self.failures = 0
        self.last = ""

    def failed(self, reason: str) -> None:
        self.failures += 1
        self.last = reason

    def succeeded(self) -> None:
        self.failures = 0

    def problem(self) -> str | None:
        """Why the part is degraded, or None while it works."""
        if self.failures < FAILURES_DEGRADED:
            return None
        return f"{self.failures} failures in a row, the last: {self.last}"[:500]
