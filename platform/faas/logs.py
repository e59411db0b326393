"""Function logs: each container's stdout and stderr followed, attributed to invocations, kept bounded.

The collector is a process of its own (`python -m faas.logs`, started and watched by the control plane),
so that reading containers' output never takes the control plane's core. It finds function containers
through Docker's events, and gets REPORT lines from the control plane through a Redis list.

The runtime marks invocations (`FC Invoke Start/End RequestId: <id>`) and writes each line of an
invocation as `<id> <line>`, so lines land on the right invocation even with instanceConcurrency > 1;
a line with no tag is given to the invocation running when exactly one runs. Redis keeps:

| key | type | holds |
|---|---|---|
| `{prefix}:logs:inv:{requestId}` | list | the invocation's lines (LOG_INVOCATION_BYTES at most), then its REPORT line |
| `{prefix}:logs:fn:{name}` | stream | the function's recent lines (fields `rid`, `line`), LOG_FUNCTION_LINES at most |
| `{prefix}:logs:reports` | list | REPORT lines on their way from the control plane to the collector |

An invocation's log that ends with its REPORT line is complete. All expire after FAAS_LOG_TTL. A function
that prints without end costs the collector CPU, never memory or Redis space beyond these bounds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections import OrderedDict

import docker
import redis
from redis.asyncio import Redis

from . import defaults
from .config import Settings

log = logging.getLogger(__name__)

_START = re.compile(f"^FC Invoke Start RequestId: ({defaults.REQUEST_ID})$")
_END = re.compile(f"^FC Invoke End RequestId: ({defaults.REQUEST_ID})$")
_TAGGED = re.compile(f"^({defaults.REQUEST_ID}) (.*)$", re.S)
_PLATFORM_ID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|init-[0-9a-f]{12})$")
"""Request ids the platform makes. stdout and stderr reach the collector through two pipes, so a stderr
line can come before its invocation's Start marker, or after its End: a tag of this form is trusted."""
TRUNCATED = "[log truncated: more than {} bytes]"


class LogKeys:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def invocation(self, request_id: str) -> str:
        return f"{self.prefix}:logs:inv:{request_id}"

    def function(self, name: str) -> str:
        return f"{self.prefix}:logs:fn:{name}"

    @property
    def reports(self) -> str:
        return f"{self.prefix}:logs:reports"


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int | None,
                init_ms: float | None) -> str:
    """Lambda's REPORT line: duration, billed duration (rounded up to 1 ms), memory, max used, init."""
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB\t"
            f"Max Memory Used: {'-' if max_used_mb is None else max_used_mb} MB")
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


class _Attribution:
    """What one container's log stream is in the middle of: the invocations running, their sizes."""

    def __init__(self):
        self.active: dict[str, int] = {}
        self.ended: OrderedDict[str, int] = OrderedDict()
        """Recently ended invocations and their sizes: their late stderr lines still land on them."""

    def end(self, rid: str) -> None:
        self.ended[rid] = self.active.pop(rid, 0)
        while len(self.ended) > 64:
            self.ended.popitem(last=False)

    def owner(self, tag: str) -> str | None:
        if tag in self.active or tag in self.ended:
            return tag
        if _PLATFORM_ID.match(tag):
            self.active[tag] = 0  # its Start marker is still on its way through the stdout pipe
            return tag
        return None


class LogCollector:
    """Follows containers' output in threads of its own (one per container) and writes it to Redis."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys = LogKeys(settings.redis_prefix)
        self.redis = redis.Redis.from_url(settings.redis_url)
        self._docker: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._reports: OrderedDict[str, str] = OrderedDict()
        self._ended: OrderedDict[str, float] = OrderedDict()
        self._following: set[str] = set()

    def _client(self) -> docker.DockerClient:
        if self._docker is None:  # a client of its own: each followed container holds a connection
            if self.settings.docker_url:
                self._docker = docker.DockerClient(base_url=self.settings.docker_url, max_pool_size=1024)
            else:
                self._docker = docker.from_env(max_pool_size=1024)
        return self._docker

    def follow(self, container_id: str, function: str, replay: bool = True) -> None:
        """Follow a container's output from its start (`replay`) or from now; once per container."""
        with self._lock:
            if container_id in self._following:
                return
            self._following.add(container_id)
        threading.Thread(target=self._follow, args=(container_id, function, replay),
                         name=f"logs-{container_id[:12]}", daemon=True).start()

    def _follow(self, container_id: str, function: str, replay: bool) -> None:
        state = _Attribution()
        buffers = [b"", b""]
        try:
            stream = self._client().api.attach(container_id, stdout=True, stderr=True, stream=True, logs=replay,
                                               demux=True)
            for chunks in stream:
                lines: list[str] = []
                for i, chunk in enumerate(chunks):
                    if not chunk:
                        continue
                    parts = (buffers[i] + chunk).split(b"\n")
                    buffers[i] = parts.pop()
                    if len(buffers[i]) > defaults.LOG_LINE_BYTES:
                        parts.append(buffers[i])
                        buffers[i] = b""
                    lines += [p.decode("utf-8", "replace") for p in parts]
                if lines:
                    self._store(state, function, lines)
        except (docker.errors.DockerException, OSError, redis.RedisError) as exc:
            log.debug("Logs of container %s: stream ended: %s", container_id[:12], exc)
        rest = [b.decode("utf-8", "replace") for b in buffers if b]
        if rest:
            try:
                self._store(state, function, rest)
            except redis.RedisError:
                pass
        with self._lock:
            self._following.discard(container_id)

    def _store(self, state: _Attribution, function: str, lines: list[str]) -> None:
        ttl = self.settings.log_ttl
        cap = defaults.LOG_INVOCATION_BYTES
        fn_key = self.keys.function(function)
        ended: list[str] = []
        reports: list[tuple[str, str]] = []
        wrote = False
        with self.redis.pipeline(transaction=False) as pipe:
            for line in lines:
                line = line[:defaults.LOG_LINE_BYTES]
                if match := _START.match(line):
                    state.active.setdefault(match.group(1), 0)
                    continue
                if match := _END.match(line):
                    rid = match.group(1)
                    state.end(rid)
                    ended.append(rid)
                    continue
                rid, text = "", line
                match = _TAGGED.match(line)
                if match and (owner := state.owner(match.group(1))):
                    rid, text = owner, match.group(2)
                elif len(state.active) == 1:
                    rid = next(iter(state.active))
                pipe.xadd(fn_key, {"rid": rid, "line": text}, maxlen=defaults.LOG_FUNCTION_LINES, approximate=True)
                wrote = True
                if rid:
                    sizes = state.active if rid in state.active else state.ended
                    size = sizes[rid]
                    if size <= cap:
                        key = self.keys.invocation(rid)
                        pipe.rpush(key, text if size + len(text) <= cap else TRUNCATED.format(cap))
                        pipe.expire(key, ttl)
                    sizes[rid] = size + len(text) + 1
            if wrote:
                pipe.expire(fn_key, ttl)
            for rid in ended:
                report = self._take_report(rid)
                if report:
                    reports.append((rid, report))
            self._append_reports(pipe, function, reports)
            if wrote or reports:
                pipe.execute()

    def _append_reports(self, pipe, function: str, reports: list[tuple[str, str]]) -> None:
        """The REPORT lines close their invocations' logs (a log ending with one is complete)."""
        ttl = self.settings.log_ttl
        for rid, report in reports:
            pipe.rpush(self.keys.invocation(rid), report)
            pipe.expire(self.keys.invocation(rid), ttl)
            pipe.xadd(self.keys.function(function), {"rid": rid, "line": report},
                      maxlen=defaults.LOG_FUNCTION_LINES, approximate=True)

    def _take_report(self, rid: str) -> str | None:
        """The REPORT line is written by whichever comes second: the End marker or the report itself."""
        with self._lock:
            report = self._reports.pop(rid, None)
            if report is None:
                self._ended[rid] = time.monotonic()
                while len(self._ended) > 10000:
                    self._ended.popitem(last=False)
            return report

    # -- the process
    def run_forever(self) -> None:
        """Follow every function container of this platform, now and as they start; apply reports."""
        threading.Thread(target=self._consume_reports, name="reports", daemon=True).start()
        labels = [f"faas.platform={self.settings.platform_id}", "faas.role=function"]
        while True:
            try:
                client = self._client()
                since = int(time.time())
                for info in client.api.containers(filters={"label": labels}):
                    fresh = time.time() - info.get("Created", 0) < 60  # its start may predate this process
                    self.follow(info["Id"], info["Labels"].get("faas.function", ""), replay=fresh)
                for event in client.api.events(decode=True, since=since,
                                               filters={"type": "container", "event": "start", "label": labels}):
                    attrs = event.get("Actor", {}).get("Attributes", {})
                    self.follow(event["id"], attrs.get("faas.function", ""))
            except (docker.errors.DockerException, OSError) as exc:
                log.warning("Log collector: Docker events ended (%s); listening again", exc)
                time.sleep(1)
                self._docker = None

    def _consume_reports(self) -> None:
        while True:
            try:
                first = self.redis.blpop([self.keys.reports], timeout=1)
                if not first:
                    continue
                items = [first[1]] + (self.redis.lpop(self.keys.reports, 1000) or [])
            except redis.RedisError as exc:
                log.warning("Log collector: cannot read reports: %s", exc)
                time.sleep(1)
                continue
            ready: dict[str, list[tuple[str, str]]] = {}
            for raw in items:
                data = json.loads(raw)
                if self._report_ready(data["rid"], data["line"], data.get("final", False)):
                    ready.setdefault(data["function"], []).append((data["rid"], data["line"]))
            if ready:
                try:
                    with self.redis.pipeline(transaction=False) as pipe:
                        for function, reports in ready.items():
                            self._append_reports(pipe, function, reports)
                        pipe.execute()
                except redis.RedisError as exc:
                    log.warning("%d REPORT line(s) not stored: %s", len(items), exc)

    def _report_ready(self, rid: str, line: str, final: bool) -> bool:
        """True when the REPORT line can be written now: its End marker came, or none will come (`final`)."""
        with self._lock:
            if self._ended.pop(rid, None) is not None or final:
                return True
            self._reports[rid] = line
            while len(self._reports) > 10000:
                self._reports.popitem(last=False)
            return False


class ReportSink:
    """The control plane's side of REPORT lines: gathered in memory, formatted and sent in one write every
    few ms, so that an invocation's answer never waits for either."""

    FLUSH_S = 0.02

    def __init__(self, settings: Settings, conn: Redis):
        self.keys = LogKeys(settings.redis_prefix)
        self.conn = conn
        self._pending: list[tuple] = []
        self._task: asyncio.Task | None = None

    def add(self, rid: str, function: str, duration_ms: float, memory_mb: int, max_used_mb: int | None,
            init_ms: float | None, final: bool) -> None:
        """One invocation's REPORT; `final`: no End marker will come to close its log."""
        self._pending.append((rid, function, duration_ms, memory_mb, max_used_mb, init_ms, final))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.FLUSH_S)
        await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            lines = [json.dumps({"rid": rid, "function": function, "final": final,
                                 "line": report_line(rid, duration_ms, memory_mb, max_used_mb, init_ms)})
                     for rid, function, duration_ms, memory_mb, max_used_mb, init_ms, final in batch]
            try:
                await self.conn.rpush(self.keys.reports, *lines)
            except Exception as exc:  # Redis away: these REPORT lines are lost, the invocations are not
                log.warning("%d REPORT line(s) not sent: %s", len(batch), exc)


class CollectorProcess:
    """The control plane's child that collects logs: started with it, restarted if it dies, stopped with it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task | None = None

    def _env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ) | {"FAAS_REDIS_URL": s.redis_url, "FAAS_REDIS_PREFIX": s.redis_prefix,
                                  "FAAS_PLATFORM_ID": s.platform_id, "FAAS_LOG_TTL": str(s.log_ttl)}
        if s.docker_url:
            env["DOCKER_HOST"] = s.docker_url
        return env

    async def start(self) -> None:
        await self._spawn()
        self._watch = asyncio.create_task(self._watchdog(), name="log-collector-watchdog")

    async def _spawn(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "faas.logs", env=self._env())

    async def _watchdog(self) -> None:
        while True:
            await self.proc.wait()
            log.warning("Log collector exited with %s; starting it again", self.proc.returncode)
            await asyncio.sleep(1)
            await self._spawn()

    async def stop(self) -> None:
        if self._watch:
            self._watch.cancel()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class LogReader:
    """The API's side: an invocation's log, a function's recent lines, following them, the Tail header."""

    def __init__(self, settings: Settings, conn: Redis):
        self.keys = LogKeys(settings.redis_prefix)
        self.conn = conn

    async def invocation(self, request_id: str) -> list[str] | None:
        lines = await self.conn.lrange(self.keys.invocation(request_id), 0, -1)
        if not lines:
            return None
        return [line.decode("utf-8", "replace") for line in lines]

    async def complete(self, request_id: str) -> bool:
        last = await self.conn.lindex(self.keys.invocation(request_id), -1)
        return last is not None and last.startswith(b"REPORT RequestId: ")

    async def tail(self, request_id: str, wait: float = 1.0) -> str:
        """The last LOG_TAIL_BYTES of an invocation's log in base64, once complete (or after `wait`)."""
        deadline = time.monotonic() + wait
        while not await self.complete(request_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        text = "\n".join(await self.invocation(request_id) or []) + "\n"
        return base64.b64encode(text.encode("utf-8")[-defaults.LOG_TAIL_BYTES:]).decode()

    async def function(self, name: str, tail: int) -> tuple[list[tuple[str, str]], str]:
        """The last `tail` lines of a function as (request id, line), and the id to follow from."""
        entries = await self.conn.xrevrange(self.keys.function(name), count=max(1, tail))
        last = entries[0][0].decode() if entries else "0-0"  # newest first: follow from the newest
        kept = list(reversed(entries[:tail]))
        return [(f[b"rid"].decode(), f[b"line"].decode("utf-8", "replace")) for _, f in kept], last

    async def follow(self, name: str, after: str, block_ms: int = 1000) -> tuple[list[tuple[str, str]], str]:
        result = await self.conn.xread({self.keys.function(name): after}, block=block_ms, count=500)
        lines, last = [], after
        for _, entries in result or []:
            for eid, f in entries:
                lines.append((f[b"rid"].decode(), f[b"line"].decode("utf-8", "replace")))
                last = eid.decode()
        return lines, last


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
    LogCollector(settings).run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
