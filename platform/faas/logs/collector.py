"""The log collector: a process of its own (`python -m faas.logs.collector`, started and watched by the
control plane's LogChannel), so that reading containers' output never takes the control plane's core. It
follows each function container's output through Docker, attributes lines to invocations by the control
plane's notices (see faas.logs), and writes them to Redis within the bounds faas.logs describes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections import OrderedDict, deque
from functools import partial

import docker
import redis

from .. import defaults
from ..config import Settings
from ..defaults import LATEST
from ..docker_host import (
    LABEL_FUNCTION,
    LABEL_PLATFORM,
    LABEL_ROLE,
    LABEL_VERSION_ID,
    ROLE_FUNCTION,
    docker_time,
    function_filter,
    label_filter,
    make_client,
)
from .attribution import END_MARKER, FOLLOW_NOTICE, START_MARKER, Attribution, split_line
from .keys import PLATFORM_REQUEST_PREFIXES
from .store import LogStore

log = logging.getLogger(__name__)

TRUNCATED = "[log truncated: more than {} bytes]"

REPORT_HOLD_S = 5.0
"""Seconds a REPORT line waits for its invocation's End marker before it is written all the same."""

BATCH_PER_CONTAINER = 2000
"""Lines of one container written in one batch; the others' lines go in the same batch."""

INBOX_LINES = 200_000
"""Lines read from Docker and not yet written: past this, readers wait (Docker keeps the rest on disk)."""

CLOSED_REMEMBERED = 10_000
"""Invocation logs closed lately whose late lines still go before their REPORT line."""

ENDED_REMEMBERED = 10_000
"""End markers kept while their REPORT line has not come (REPORT_HOLD_S * 4 at most)."""


class LogCollector:
    """Follows containers' output (a reader thread each) and writes it to Redis (one writer thread)."""

    def __init__(self, settings: Settings, notices_fd: int | None = None):
        self.settings = settings
        self.store = LogStore(settings)
        self._docker: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._inbox: dict[str, deque[tuple]] = {}
        """Per container, (container id, function, timestamp, line) read from Docker and not yet written;
        (cid, function, None, container id) at the stream's end."""
        self._queued = 0
        self._report_inbox: deque[bytes] = deque()
        self._following: dict[str, threading.Thread] = {}
        self._versions: dict[str, str] = {}
        """The version each followed container runs (by its first 12 hex digits): its lines are marked with it."""
        self._notices_fd = notices_fd
        self._notice_buf = b""
        self.attribution = Attribution()
        self._sizes: dict[str, int] = {}
        """Bytes kept of each invocation that printed and is not yet closed by its REPORT line."""
        self._closed: OrderedDict[str, int] = OrderedDict()
        """Invocation logs a REPORT line closed lately: Docker copies stdout and stderr apart, so a line
        printed to stderr before the End marker (on stdout) may be read after it. Their sizes: late lines
        count against the same LOG_INVOCATION_BYTES."""
        self._ended: OrderedDict[str, float] = OrderedDict()
        """End markers seen whose REPORT line has not come yet."""
        self._held: OrderedDict[str, tuple[dict, bytes, float]] = OrderedDict()
        """REPORT lines waiting for their End marker: rid -> (report, its raw item, when it came)."""
        self._stopping = threading.Event()
        self._final = threading.Event()
        """Set once every stream has been read to its end on a TERM: the writer writes all it holds, then ends."""
        self.writer: threading.Thread | None = None

    def _client(self) -> docker.DockerClient:
        if self._docker is None:  # a client of its own: each followed container holds a connection
            self._docker = make_client(self.settings.docker_url, max_pool_size=1024)
        return self._docker

    # -- reading containers
    def follow(self, container_id: str, function: str, since: float | None, version: str = LATEST) -> None:
        """Follow a container's output from `since` (a Docker timestamp; None: from its start); once each.
        `version`: the function's version it runs."""
        with self._lock:
            if container_id in self._following:
                return
            self._versions[container_id[:12]] = version
            thread = threading.Thread(target=self._read, args=(container_id, function, since),
                                      name=f"logs-{container_id[:12]}", daemon=True)
            self._following[container_id] = thread
        thread.start()

    def _follow_cell(self, cid: str, function: str, version: str) -> None:
        """Follow a specialised cell (from where an earlier collector stopped reading it, if one did)."""
        try:
            cursor = self.store.cursor(cid)
        except redis.RedisError:
            cursor = None
        self.follow(cid, function, _resume_at(cursor), version)

    def _read(self, container_id: str, function: str, since: float | None) -> None:
        cid = container_id[:12]
        partial, stamp = b"", ""
        try:
            stream = self._client().api.logs(container_id, stdout=True, stderr=True, stream=True, follow=True,
                                             timestamps=True, since=since if since else None)
            for frame in stream:
                ts, _, text = frame.partition(b" ")
                parts = (partial + text).split(b"\n")
                partial = parts.pop()
                if len(partial) > defaults.LOG_LINE_BYTES:
                    parts.append(partial)
                    partial = b""
                stamp = ts.decode("ascii", "replace")
                if parts:
                    self._put([(cid, function, stamp, p.decode("utf-8", "replace")) for p in parts])
        except (docker.errors.DockerException, OSError) as exc:
            log.debug("Logs of container %s: stream ended: %s", cid, exc)
        if partial:
            self._put([(cid, function, stamp, partial.decode("utf-8", "replace"))])
        self._put([(cid, function, None, container_id)])

    def _put(self, items: list[tuple]) -> None:
        with self._wake:
            while self._queued > INBOX_LINES and not self._stopping.is_set():
                self._wake.wait(0.1)  # the writer is behind: Docker keeps the rest on disk meanwhile
            self._inbox.setdefault(items[0][0], deque()).extend(items)
            self._queued += len(items)
            self._wake.notify_all()

    def _take(self) -> list[tuple]:
        """Lines to write now, at most BATCH_PER_CONTAINER of each container: one that prints without end
        cannot hold up the others' lines (call with the lock held)."""
        taken: list[tuple] = []
        for cid in list(self._inbox):
            queue = self._inbox[cid]
            n = min(len(queue), BATCH_PER_CONTAINER)
            taken += [queue.popleft() for _ in range(n)]
            if not queue:
                del self._inbox[cid]
        self._queued -= len(taken)
        return taken

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
                    self._follow_cell(*follow.groups())
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
            with self._wake:
                self._report_inbox.extend(items)
                self._wake.notify_all()

    # -- writing
    def _write_forever(self) -> None:
        next_budget = time.monotonic() + defaults.LOG_BUDGET_INTERVAL_S
        while True:
            with self._wake:
                if not self._inbox and not self._report_inbox and not self._final.is_set():
                    self._wake.wait(0.25)
                final = self._final.is_set()
                lines = self._take()
                reports = list(self._report_inbox)
                self._report_inbox.clear()
                self._wake.notify_all()
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
                with self._wake:  # try them again
                    for item in reversed(lines):
                        self._inbox.setdefault(item[0], deque()).appendleft(item)
                    self._queued += len(lines)
                    self._report_inbox.extendleft(reversed(reports))
                continue
            if final and not self._inbox:
                return

    def write(self, lines: list[tuple], raw_reports: list[bytes], now: float, flush_all: bool = False) -> None:
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
                self._sizes.pop(rid, None)
            with self._lock:
                self._following.pop(container_id, None)
                self._versions.pop(container_id[:12], None)

    def _write_lines(self, pipe, lines: list[tuple], now: float,
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
            self.store.line(pipe, function, rid, text, self._versions.get(cid, LATEST))
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
        size = self._sizes.pop(rid, 0)
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
        labels = label_filter(function_filter(self.settings.platform_id))
        while not self._stopping.is_set():
            try:
                client = self._client()
                since = int(time.time())
                cursors = self.store.cursors()
                # Every container of the platform: cells too, whose cursors stay (they are followed on notice).
                found = client.api.containers(filters={"label": [f"{LABEL_PLATFORM}={self.settings.platform_id}"]})
                for info in found:
                    if info["Labels"].get(LABEL_ROLE) == ROLE_FUNCTION:
                        self.follow(info["Id"], info["Labels"].get(LABEL_FUNCTION, ""),
                                    _resume_at(cursors.get(info["Id"][:12])),
                                    info["Labels"].get(LABEL_VERSION_ID, LATEST))
                stale = set(cursors) - {info["Id"][:12] for info in found}
                if stale:
                    self.store.forget_cursors(stale)
                for event in client.api.events(decode=True, since=since,
                                               filters={"type": "container", "event": "start", "label": labels}):
                    if self._stopping.is_set():
                        break
                    attrs = event.get("Actor", {}).get("Attributes", {})
                    self.follow(event["id"], attrs.get(LABEL_FUNCTION, ""), None, attrs.get(LABEL_VERSION_ID, LATEST))
            except (docker.errors.DockerException, OSError, redis.RedisError) as exc:
                if self._stopping.is_set():
                    break
                log.warning("Log collector: Docker events ended (%s); listening again", exc)
                time.sleep(1)
                self._docker = None
        writer.join()

    def drain_and_stop(self, writer: threading.Thread, timeout: float = 10.0) -> None:
        """On TERM: read what the containers printed to the end, write every REPORT line held, then stop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(t.is_alive() for t in self._following.values()):
                    break
            time.sleep(0.05)
        self._stopping.set()
        try:  # the last REPORT lines the control plane sent before it stopped us
            rest = self.store.take_reports(100000)
        except redis.RedisError:
            rest = []
        with self._wake:
            self._report_inbox.extend(rest)
            self._final.set()
            self._wake.notify_all()
        writer.join(timeout)


def _resume_at(cursor: str | None) -> float | None:
    """Where to read a container from again: just after the last line read (None: from its start)."""
    seconds = docker_time(cursor)
    return seconds + 1e-6 if seconds else None


def _exit_with_parent() -> None:
    """The collector lives only as long as the control plane that started it (even one that was killed)."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    fd = sys.stdin.fileno()
    try:
        os.set_blocking(fd, False)
    except OSError:
        fd = None
    collector = LogCollector(settings, fd)

    def stop(signum, frame):
        def drain():
            collector.drain_and_stop(collector.writer)
            os._exit(0)

        threading.Thread(target=drain, name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    collector.run_forever()
    return 0




if __name__ == "__main__":
    sys.exit(main())
