"""The control plane's side of logs: REPORT lines, the notices that attribute output to invocations, and
the collector process it runs."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import math
import os
import select
import sys
from collections import deque

from redis.asyncio import Redis

from .. import defaults
from ..config import Settings
from ..defaults import LATEST
from .keys import LogKeys, entry

log = logging.getLogger(__name__)

PIPE_BYTES = 1 << 20
"""Size asked for the notice pipe (F_SETPIPE_SZ): room for about 15,000 notices while the collector is busy."""


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int | None,
                init_ms: float | None, trigger: str | None = None) -> str:
    """Lambda's REPORT line: duration, billed duration (rounded up to 1 ms), memory, max used, init; and the
    trigger that caused the invocation, when one did."""
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {'-' if max_used_mb is None else max_used_mb} MB")
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    if trigger:
        line += f"\tTrigger: {trigger}"
    return line


def pack_lines(lines: list[bytes], limit: int) -> list[bytes]:
    """`lines` (each shorter than `limit`) joined into as few chunks of at most `limit` bytes as keep each
    line whole."""
    chunks: list[bytes] = []
    part: list[bytes] = []
    size = 0
    for line in lines:
        if size + len(line) > limit and part:
            chunks.append(b"".join(part))
            part, size = [], 0
        part.append(line)
        size += len(line)
    if part:
        chunks.append(b"".join(part))
    return chunks


_APPEND_QUIET = """
local i = 3
local expiring = {}
for _, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i])
  redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, i + 1, i + count))
  i = i + count + 1
  if not expiring[key] then
    expiring[key] = true
    redis.call('EXPIRE', key, ARGV[2])
  end
end
return #KEYS
"""
"""Quiet invocations' REPORT lines, each to its function's stream, in one call (XADDs one by one through a
pipeline cost the control plane about 8% of a warm invocation, in redis-py's packing of each). KEYS: each line's
stream; ARGV: the most lines a stream keeps (approximately), the streams' TTL, then for each line the number of
its field arguments and those (keys.entry's fields)."""


class LogChannel:
    """The control plane's side of logs: it runs the collector (restarted if it dies, stopped last), tells it
    through a pipe which request ids run on which container, and sends REPORT lines: those of quiet invocations
    straight to the function's stream, the others to the collector, every few ms in one round trip, so that an
    invocation's answer never waits for either."""

    FLUSH_S = 0.02

    def __init__(self, settings: Settings, conn: Redis):
        self.settings = settings
        self.keys = LogKeys(settings.redis_prefix)
        self.conn = conn
        self._append_quiet = conn.register_script(_APPEND_QUIET)
        self.proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task | None = None
        self._fd: int | None = None
        self._open: dict[tuple[str, str], None] = {}
        self._closed: deque[tuple[str, str]] = deque(maxlen=4096)
        """Notices of recent invocations, sent again to a new collector: their lines may still be unread."""
        self._pending: list[tuple] = []
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self._notices: list[bytes] = []
        """Notices of this turn of the event loop, written after it."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """The control plane's loop (set at start): asking for the running one costs a system call each time."""
        self._follows: dict[str, bytes] = {}
        """The follow notices of live specialised cells, sent again to a new collector."""

    # -- notices
    def begin(self, container_id: str, request_id: str) -> None:
        key = (container_id[:12], request_id)
        self._open[key] = None
        self._send(b"+%s %s\n" % (key[0].encode(), request_id.encode()))

    def end(self, container_id: str, request_id: str) -> None:
        key = (container_id[:12], request_id)
        self._open.pop(key, None)
        self._closed.append(key)
        self._send(b"-%s %s\n" % (key[0].encode(), request_id.encode()))

    def follow(self, container_id: str, function: str, version: str) -> None:
        """A container the collector does not find by its labels (a cell, specialised) now runs `function`'s
        `version`: its output is that function's log."""
        cid = container_id[:12]
        self._follows[cid] = b"=%s %s %s\n" % (cid.encode(), function.encode(), version.encode())
        self._send(self._follows[cid])

    def unfollow(self, container_id: str) -> None:
        self._follows.pop(container_id[:12], None)

    def _send(self, data: bytes) -> None:
        """Queue a notice: the notices of one turn of the event loop go to the pipe together, after it."""
        if self._fd is None:
            return
        self._notices.append(data)
        if len(self._notices) == 1:
            if self._loop is not None and self._loop.is_running():
                self._loop.call_soon(self._write_notices)
            else:  # no loop runs (start-up, shutdown): now
                self._write_notices()

    def _write_notices(self) -> None:
        """The queued notices, in writes of at most PIPE_BUF bytes that end on a line: each is atomic, so a full
        pipe refuses whole notices and never leaves half of one."""
        notices, self._notices = self._notices, []
        if self._fd is None:
            return
        for chunk in pack_lines(notices, select.PIPE_BUF):
            try:
                os.write(self._fd, chunk)
            except (BlockingIOError, BrokenPipeError, OSError):
                self.dropped += 1  # the collector is stuck or gone: these lines will count as untagged

    def _replay(self) -> None:
        lines = list(self._follows.values())
        lines += [b"+%s %s\n-%s %s\n" % (c.encode(), r.encode(), c.encode(), r.encode()) for c, r in self._closed]
        lines += [b"+%s %s\n" % (c.encode(), r.encode()) for c, r in self._open]
        for line in lines:
            self._send(line)

    # -- reports
    def report(self, rid: str, function: str, duration_ms: float, memory_mb: int, max_used_mb: int | None,
               init_ms: float | None, quiet: bool, final: bool, trigger: str | None = None,
               version: str = LATEST) -> str:
        """One invocation's REPORT line (returned). `quiet`: it printed nothing, so its log is this line alone;
        `final`: no End marker will come to close its log (its container is gone); `version`: the function's
        version that ran."""
        line = report_line(rid, duration_ms, memory_mb, max_used_mb, init_ms, trigger)
        self._pending.append((rid, function, line, quiet, final, version))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())
        return line

    async def _flush_soon(self) -> None:
        # Until none is left: a report made while a flush awaits Redis finds this task running and starts no
        # other, so this one takes it too (it once waited for the next invocation's report, forever if none came).
        while self._pending:
            await asyncio.sleep(self.FLUSH_S)
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        quiet_keys: list[str] = []
        quiet_args: list = [defaults.LOG_FUNCTION_LINES, self.settings.log_ttl]
        queued = []
        for rid, function, line, quiet, final, version in batch:
            if quiet and not final:  # its log is this line alone, in the function's stream: no collector needed
                fields = entry(rid, line, version)
                quiet_keys.append(self.keys.function(function))
                quiet_args.append(2 * len(fields))
                for name, value in fields.items():
                    quiet_args += (name, value)
            else:  # the collector closes the invocation's log with it (at once when `final`)
                queued.append(json.dumps({"rid": rid, "function": function, "final": final or quiet, "line": line,
                                          "version": version}))
        try:
            async with self.conn.pipeline(transaction=False) as pipe:
                if quiet_keys:
                    await self._append_quiet(keys=quiet_keys, args=quiet_args, client=pipe)  # (queued)
                if queued:
                    pipe.rpush(self.keys.reports, *queued)
                await pipe.execute()
        except Exception as exc:  # Redis away: these REPORT lines are lost, the invocations are not
            log.warning("%d REPORT line(s) not sent: %s", len(batch), exc)

    # -- the collector process
    async def start(self) -> None:
        await self._spawn()
        self._watch = asyncio.create_task(self._watchdog(), name="log-collector-watchdog")

    async def _spawn(self) -> None:
        self._loop = asyncio.get_running_loop()
        read, write = os.pipe()
        try:
            fcntl.fcntl(write, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:
            pass
        os.set_blocking(write, False)
        s = self.settings
        env = dict(os.environ) | {"FAAS_REDIS_URL": s.redis_url, "FAAS_REDIS_PREFIX": s.redis_prefix,
                                  "FAAS_PLATFORM_ID": s.platform_id, "FAAS_LOG_TTL": str(s.log_ttl),
                                  "FAAS_LOG_MAX_MB": str(s.log_max_bytes >> 20),
                                  "FAAS_LOG_FUNCTION_MB": str(s.log_function_bytes >> 20)}
        if s.docker_url:
            env["DOCKER_HOST"] = s.docker_url
        try:
            self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "faas.logs.collector", env=env,
                                                             stdin=read)
        finally:
            os.close(read)
        old, self._fd = self._fd, write
        if old is not None:
            os.close(old)
        self._replay()

    async def _watchdog(self) -> None:
        assert self.proc is not None, "start() spawns the collector before it starts the watchdog"
        while True:
            await self.proc.wait()
            log.warning("Log collector exited with %s; starting it again", self.proc.returncode)
            await asyncio.sleep(1)
            await self._spawn()

    async def stop(self, timeout: float = 15.0) -> None:
        """Flush REPORT lines, then let the collector read every stream to its end and write what it holds.
        A second call does nothing."""
        if self._task is not None:  # a flush under way: its lines must reach Redis before the collector's last look
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
        self._write_notices()  # those of this turn of the loop: the collector's last look must see them
        if self._watch:
            self._watch.cancel()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
