"""Which output lines belong to which invocation (the rules are in faas.logs): the control plane's notices,
and the runtime's markers and tags. Pure bookkeeping, no I/O, so that the rules are unit-tested."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable

from .. import defaults

END_MARKER = re.compile(f"FC Invoke End RequestId: ({defaults.REQUEST_ID})")
START_MARKER = re.compile(f"FC Invoke Start RequestId: ({defaults.REQUEST_ID})")
FOLLOW_NOTICE = re.compile(r"=([0-9a-f]{12}) ([a-z][a-z0-9-]{0,62}) (LATEST|[1-9][0-9]{0,8})")
"""A notice that a container found by no label (a specialised cell) runs a function's version."""
_TAGGED = re.compile(f"({defaults.REQUEST_ID}) (.*)", re.S)
_NOTICE = re.compile(f"([+-])([0-9a-f]{{12}}) ({defaults.REQUEST_ID})")

RECENT_PER_CONTAINER = 64
"""Ended request ids a container keeps accepting lines for (late stderr lines, lines of the last write)."""


class Attribution:
    """Which request ids run, or just ran, on which container: fed by the control plane's notices only."""

    def __init__(self) -> None:
        self.running: dict[str, set[str]] = {}
        self.recent: dict[str, OrderedDict[str, None]] = {}

    def apply(self, line: str) -> None:
        """One notice line: `+<cid> <rid>` (runs from now) or `-<cid> <rid>` (ended); anything else ignored."""
        match = _NOTICE.fullmatch(line)
        if match is None:
            return
        sign, cid, rid = match.groups()
        if sign == "+":
            self.running.setdefault(cid, set()).add(rid)
            return
        running = self.running.get(cid)
        if running is not None:
            running.discard(rid)
            if not running:
                del self.running[cid]
        recent = self.recent.setdefault(cid, OrderedDict())
        recent[rid] = None
        while len(recent) > RECENT_PER_CONTAINER:
            recent.popitem(last=False)

    def owns(self, cid: str, rid: str) -> bool:
        """True when `rid` runs, or just ran, on container `cid` (its first 12 hex digits)."""
        return rid in self.running.get(cid, ()) or rid in self.recent.get(cid, ())

    def forget(self, cid: str) -> list[str]:
        """The container is gone: its request ids, which take no more lines."""
        return list(self.running.pop(cid, ())) + list(self.recent.pop(cid, ()))


def split_line(line: str, owns: Callable[[str], bool]) -> tuple[str, str]:
    """(request id or "", text) of one output line: a tag counts only when `owns(tag)` says it may."""
    match = _TAGGED.fullmatch(line)
    if match and owns(match.group(1)):
        return match.group(1), match.group(2)
    return "", line
