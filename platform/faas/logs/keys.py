"""Redis key names of function logs (the table is in faas.logs), and the request ids the platform uses."""

from __future__ import annotations

from ..defaults import LATEST

PLATFORM_REQUEST_PREFIXES = ("init-", "adopt-")
"""Request ids of the platform's own calls (a container's initializer): kept in the function's stream only."""



def entry(rid: str, line: str, version: str) -> dict[str, str]:
    """A line of a function's stream: its request id, the line, and the version that printed it (absent for
    LATEST, as on lines written before versions existed)."""
    return {"rid": rid, "line": line} if version == LATEST else {"rid": rid, "line": line, "ver": version}


class LogKeys:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.reports = f"{prefix}:logs:reports"
        self.held = f"{prefix}:logs:reports:held"
        """REPORT lines a collector has taken and not yet written: put back in `reports` if it dies."""
        self.usage = f"{prefix}:logs:usage"
        self.cursors = f"{prefix}:logs:cursors"
        self.invocation_prefix = f"{prefix}:logs:inv:"

    def invocation(self, request_id: str) -> str:
        return self.invocation_prefix + request_id

    def function(self, name: str) -> str:
        return f"{self.prefix}:logs:fn:{name}"

    def index(self, name: str) -> str:
        return f"{self.prefix}:logs:index:{name}"
