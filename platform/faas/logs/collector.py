"""The log collector: a process of its own (`python -m faas.logs.collector`, started and watched by the
control plane's LogChannel), so that reading containers' output never takes the control plane's core. It
follows each function container's output through Docker (streams.py), attributes lines to invocations by the
control plane's notices (attribution.py, the rules in faas.logs), and writes them to Redis within the bounds
faas.logs describes (store.py); reader threads hand lines to the one writer thread through an inbox.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from functools import partial

import redis

from .. import defaults
from ..config import Settings
from ..defaults import LATEST
from ..startup import setup_logging
from .attribution import END_MARKER, FOLLOW_NOTICE, START_MARKER, Attribution, split_line
from .inbox import Inbox, Line
from .keys import PLATFORM_REQUEST_PREFIXES
from .store import LogStore
from .streams import ContainerStreams

log = logging.getLogger(__name__)

TRUNCATED = "[log truncated: more than {} bytes]"

REPORT_HOLD_S = 5.0
"""Seconds a REPORT line waits for its invocation's End marker before it is written all the same."""

CLOSED_REMEMBERED = 10_000
"""Invocation logs closed lately whose late lines still go before their REPORT line."""

ENDED_REMEMBERED = 10_000
"""End markers kept while their REPORT line has not come (REPORT_HOLD_S * 4 at most)."""


class LogCollector:
    """Reads containers' output (a reader thread each) and writes it to Redis (one writer thread)."""

    def __init__(self, settings: Settings, notices_fd: int | None = None):
        self.settings = settings
        self.store = LogStore(settings)
        self._stopping = threading.Event()
        self.inbox = Inbox(self._stopping)
        self.streams = ContainerStreams(settings, self.store, self.inbox, self._stopping)
        self._notices_fd = notices_fd
        self._notice_buf = b""
        self.attribution = Attribution()
        self._sizes: dict[str, int] = {}
        """Bytes kept of each invocation that printed and is not yet closed by its REPORT line."""
        self._unreported: OrderedDict[str, int] = OrderedDict()
        """Those sizes of invocations whose container's stream ended before their REPORT line came (it may come
        later: the control plane sends it apart). The REPORT line still ends their log."""
        self._closed: OrderedDict[str, int] = OrderedDict()
        """Invocation logs a REPORT line closed lately: Docker copies stdout and stderr apart, so a line
        printed to stderr before the End marker (on stdout) may be read after it. Their sizes: late lines
        count against the same LOG_INVOCATION_BYTES."""
        self._ended: OrderedDict[str, float] = OrderedDict()
        """End markers seen whose REPORT line has not come yet."""
        self._held: OrderedDict[str, tuple[dict, bytes, float]] = OrderedDict()
        """REPORT lines waiting for their End marker: rid -> (report, its raw item, when it came)."""
        self.writer: threading.Thread | None = None

    # -- notices and reports
    def _read_notices(self) -> None:
        """Apply every notice the control plane has written so far (the pipe is non-blocking)."""
        if self._notices_fd is None:
            return
        while True:
            try:
                chunk = os.read(self._notices_fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                self._notices_fd = None
                break
            if not chunk:  # the control plane closed it: it is going away
                self._notices_fd = None
                break
            *lines, self._notice_buf = (self._notice_buf + chunk).split(b"\n")
            for line in lines:
                text = line.decode("ascii", "replace")
                follow = FOLLOW_NOTICE.fullmatch(text)
                if follow is not None:
                    self.streams.follow_cell(*follow.groups())
                else:
                    self.attribution.apply(text)
            if len(self._notice_buf) > 256:
                self._notice_buf = b""

    def _consume_reports(self) -> None:
        while not self._stopping.is_set():
            try:
                items = self.store.wait_reports()
                if not items:
                    continue
            except redis.RedisError as exc:
                log.warning("Log collector: cannot read reports: %s", exc)
                time.sleep(1)
                continue
            self.inbox.put_reports(items)

    # -- writing
    def _write_forever(self) -> None:
        next_budget = time.monotonic() + defaults.LOG_BUDGET_INTERVAL_S
        while True:
            lines, reports, final = self.inbox.take(0.25)
            try:
                self.write(lines, reports, time.monotonic(), flush_all=final)
                if time.monotonic() >= next_budget:
                    next_budget = time.monotonic() + defaults.LOG_BUDGET_INTERVAL_S
                    self.store.enforce_budget()
            except redis.RedisError as exc:
                log.warning("Log collector: %d line(s) not stored: %s", len(lines), exc)
                if final:
                    return
                time.sleep(0.5)
                self.inbox.give_back(lines, reports)  # try them again
                continue
            if final and not self.inbox.has_lines():
                return

    def write(self, lines: list[Line], raw_reports: list[bytes], now: float, flush_all: bool = False) -> None:
        """Attribute and store one batch: lines read from containers, REPORT lines from the control plane."""
        self._read_notices()
        closing: list[tuple[dict, bytes]] = []
        with self.store.redis.pipeline(transaction=False) as pipe:
            cursors, ended_streams = self._write_lines(pipe, lines, now, closing)
            self._take_reports(raw_reports, now, flush_all, closing)
            for report, raw in closing:
                self._close(pipe, report, raw)
            self.store.save_cursors(pipe, cursors, ended_streams)
            if len(pipe):
                pipe.execute()
        for container_id in ended_streams:
            for rid in self.attribution.forget(container_id[:12]):
                if (size := self._sizes.pop(rid, 0)):
                    self._unreported[rid] = size
            while len(self._unreported) > CLOSED_REMEMBERED:
                self._unreported.popitem(last=False)
            self.streams.ended(container_id)

    def _write_lines(self, pipe, lines: list[Line], now: float,
                     closing: list[tuple[dict, bytes]]) -> tuple[dict[str, str], list[str]]:
        """Each line to its function's stream, and to its invocation's log when the tag counts; an End marker
        closes its invocation once its REPORT line is here (into `closing`). Returns the cursors read to, and
        the containers whose stream ended."""
        cap = defaults.LOG_INVOCATION_BYTES
        cursors: dict[str, str] = {}
        ended_streams: list[str] = []
        for cid, function, stamp, line in lines:
            if stamp is None:
                ended_streams.append(line)
                continue
            cursors[cid] = stamp
            line = line[:defaults.LOG_LINE_BYTES]
            marker = END_MARKER.fullmatch(line) or START_MARKER.fullmatch(line)
            if marker is not None:
                rid = marker.group(1)
                if line.startswith("FC Invoke End") and self.attribution.owns(cid, rid):
                    self._ended[rid] = now
                    held = self._held.pop(rid, None)
                    if held is not None:
                        closing.append((held[0], held[1]))
                continue
            rid, text = split_line(line, partial(self.attribution.owns, cid))
            self.store.line(pipe, function, rid, text, self.streams.version(cid))
            if rid and not rid.startswith(PLATFORM_REQUEST_PREFIXES):
                size = self._sizes.get(rid) or self._closed.get(rid, 0)
                if size <= cap:
                    kept = text if size + len(text) <= cap else TRUNCATED.format(cap)
                    self.store.invocation_line(pipe, rid, kept, closed=rid in self._closed)
                self._sizes[rid] = size + len(text) + 1
        return cursors, ended_streams

    def _take_reports(self, raw_reports: list[bytes], now: float, flush_all: bool,
                      closing: list[tuple[dict, bytes]]) -> None:
        """A REPORT line closes its invocation once its End marker was read (into `closing`); until then it is
        held, REPORT_HOLD_S at most (`flush_all`: not at all)."""
        for raw in raw_reports:
            report = json.loads(raw)
            rid = report["rid"]
            if report.get("final") or self._ended.pop(rid, None) is not None:
                closing.append((report, raw))
            else:
                self._held[rid] = (report, raw, now)
        for rid, (report, raw, since) in list(self._held.items()):
            if flush_all or now - since >= REPORT_HOLD_S:  # its End marker is lost: close it anyway
                del self._held[rid]
                closing.append((report, raw))
        while self._ended and (flush_all or len(self._ended) > ENDED_REMEMBERED or
                               now - next(iter(self._ended.values())) > REPORT_HOLD_S * 4):
            self._ended.popitem(last=False)

    def _close(self, pipe, report: dict, raw: bytes) -> None:
        """The REPORT line ends the invocation's log (a log ending with one is complete), and the log is
        counted against its function's bounds. An invocation that printed nothing gets no log key."""
        rid = report["rid"]
        size = self._sizes.pop(rid, 0) or self._unreported.pop(rid, 0)
        if size:
            self._closed[rid] = size
            while len(self._closed) > CLOSED_REMEMBERED:
                self._closed.popitem(last=False)
        self.store.close_invocation(pipe, report["function"], rid, report["line"], report.get("version", LATEST),
                                    size, raw)

    # -- the process
    def run_forever(self) -> None:
        """Follow every function container of this platform, now and as they start; apply reports."""
        self.store.recover()
        threading.Thread(target=self._consume_reports, name="reports", daemon=True).start()
        writer = self.writer = threading.Thread(target=self._write_forever, name="writer", daemon=True)
        writer.start()
        self.streams.follow_all()
        writer.join()

    def drain_and_stop(self, timeout: float = 10.0) -> None:
        """On TERM: read what the containers printed to the end, write every REPORT line held, then stop."""
        self.streams.wait_read(time.monotonic() + timeout)
        self._stopping.set()
        try:  # the last REPORT lines the control plane sent before it stopped us
            rest = self.store.take_reports(100000)
        except redis.RedisError:
            rest = []
        self.inbox.put_reports(rest, final=True)
        if self.writer is not None:  # (None: stopped before it began)
            self.writer.join(timeout)


def _exit_with_parent() -> None:
    """The collector lives only as long as the control plane that started it (even one that was killed)."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _notice_pipe() -> int | None:
    """Standard input, where the control plane writes its notices, made non-blocking; None when it cannot be."""
    fd = sys.stdin.fileno()
    try:
        os.set_blocking(fd, False)
    except OSError:
        return None
    return fd


def main() -> int:
    setup_logging()
    settings = Settings.from_env()
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    collector = LogCollector(settings, _notice_pipe())
    # TERM wakes a drain thread started now. The handler only sets an event that the main thread never holds:
    # starting the thread from the handler could meet threading's own lock held by the main thread, which
    # starts a reader thread whenever a container starts, and wait for it forever.
    stopping = threading.Event()

    def drain() -> None:
        stopping.wait()
        collector.drain_and_stop()
        os._exit(0)

    threading.Thread(target=drain, name="drain", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    collector.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
