"""What the log collector has read and not yet written: containers' lines (from the reader threads) and REPORT
lines (from Redis), handed to the one writer thread under one lock."""

from __future__ import annotations

import threading
from collections import deque

INBOX_LINES = 200_000
"""Lines read from Docker and not yet written: past this, readers wait (Docker keeps the rest on disk)."""

BATCH_PER_CONTAINER = 2000
"""Lines of one container written in one batch; the others' lines go in the same batch."""

Line = tuple[str, str, str | None, str]
"""(container id's first 12 hex digits, function, Docker timestamp, line); (cid, function, None, the full
container id) at the end of its stream."""


class Inbox:
    def __init__(self, stopping: threading.Event):
        self._stopping = stopping
        self._wake = threading.Condition()
        self._lines: dict[str, deque[Line]] = {}
        """Per container, its lines in the order read."""
        self._queued = 0
        self._reports: deque[bytes] = deque()
        self._final = False
        """Every stream has been read to its end on a TERM: the writer writes all it holds, then ends."""

    def put(self, items: list[Line]) -> None:
        """Lines of one container; waits while the writer is behind (unless the collector is stopping)."""
        with self._wake:
            while self._queued > INBOX_LINES and not self._stopping.is_set():
                self._wake.wait(0.1)  # the writer is behind: Docker keeps the rest on disk meanwhile
            self._lines.setdefault(items[0][0], deque()).extend(items)
            self._queued += len(items)
            self._wake.notify_all()

    def put_reports(self, items: list[bytes], final: bool = False) -> None:
        """REPORT items; `final`: the last the writer gets."""
        with self._wake:
            self._reports.extend(items)
            self._final = self._final or final
            self._wake.notify_all()

    def take(self, wait: float) -> tuple[list[Line], list[bytes], bool]:
        """(lines, REPORT items, final) to write now, after up to `wait` seconds when there are none."""
        with self._wake:
            if not self._lines and not self._reports and not self._final:
                self._wake.wait(wait)
            final = self._final
            lines = self._take_lines()
            reports = list(self._reports)
            self._reports.clear()
            self._wake.notify_all()
        return lines, reports, final

    def _take_lines(self) -> list[Line]:
        """At most BATCH_PER_CONTAINER lines of each container: one that prints without end cannot hold up the
        others' lines (call with the lock held)."""
        taken: list[Line] = []
        for cid in list(self._lines):
            queue = self._lines[cid]
            n = min(len(queue), BATCH_PER_CONTAINER)
            taken += [queue.popleft() for _ in range(n)]
            if not queue:
                del self._lines[cid]
        self._queued -= len(taken)
        return taken

    def give_back(self, lines: list[Line], reports: list[bytes]) -> None:
        """What the writer took and could not write: first in line again."""
        with self._wake:
            for item in reversed(lines):
                self._lines.setdefault(item[0], deque()).appendleft(item)
            self._queued += len(lines)
            self._reports.extendleft(reversed(reports))

    def has_lines(self) -> bool:
        return bool(self._lines)
