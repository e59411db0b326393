"""Function logs in Redis, within the bounds faas.logs describes: the log collector's writes (stream lines,
invocation logs, their index), its cursors and REPORT lines, and the budget pass that trims the largest."""

from __future__ import annotations

import logging
from typing import cast

from .. import defaults
from ..config import Settings
from ..redisconn import connect
from ..store import functions_key
from .keys import LogKeys, entry

log = logging.getLogger(__name__)

_INDEX_PUSH = """
local used
if ARGV[1] ~= '' then
  redis.call('RPUSH', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  used = redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[2])
else
  used = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
end
local n = redis.call('LLEN', KEYS[1])
local max_n, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])
while n > 0 and (n > max_n or used > max_bytes) do
  local old = redis.call('LPOP', KEYS[1])
  local sp = string.find(old, ' ', 1, true)
  redis.call('DEL', ARGV[7] .. string.sub(old, 1, sp - 1))
  used = redis.call('HINCRBY', KEYS[2], ARGV[3], -tonumber(string.sub(old, sp + 1)))
  n = n - 1
end
if used <= 0 then redis.call('HDEL', KEYS[2], ARGV[3]) end
return used
"""
"""Register an invocation log in its function's index (none with an empty request id: only trim); evict the
oldest while over the function's bounds. KEYS: index, usage. ARGV: request id, bytes, function, most logs,
most bytes, ttl, invocation key prefix. Returns the bytes the function's invocation logs keep."""

_LATE_LINE = """
local last = redis.call('LINDEX', KEYS[1], -1)
if last and string.sub(last, 1, 18) == 'REPORT RequestId: ' then
  redis.call('RPOP', KEYS[1])
  redis.call('RPUSH', KEYS[1], ARGV[1], last)
else
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""
"""Add a line to an invocation log that its REPORT line may already close: before the REPORT line, which
stays last (KEYS: the log; ARGV: the line, the ttl)."""

_TAKE_REPORTS = """
local items = redis.call('LPOP', KEYS[1], ARGV[1])
if items then redis.call('RPUSH', KEYS[2], unpack(items)) end
return items
"""
"""Move up to ARGV[1] REPORT items from the queue to the held list (KEYS: queue, held), and return them."""


class LogStore:
    """The collector's side of the keys (a blocking client: the collector's threads are its concurrency)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys = LogKeys(settings.redis_prefix)
        self.redis = connect(settings)
        self._index_push = self.redis.register_script(_INDEX_PUSH)
        self._take_reports = self.redis.register_script(_TAKE_REPORTS)
        self._late_line = self.redis.register_script(_LATE_LINE)
        self._touched: set[str] = set()
        """Functions written to since the last budget pass."""

    # -- writes, on the caller's pipeline
    def line(self, pipe, function: str, rid: str, text: str, version: str) -> None:
        """A line of the function's stream."""
        key = self.keys.function(function)
        pipe.xadd(key, entry(rid, text, version), maxlen=defaults.LOG_FUNCTION_LINES, approximate=True)
        if function not in self._touched:
            self._touched.add(function)
            pipe.expire(key, self.settings.log_ttl)

    def invocation_line(self, pipe, rid: str, text: str, closed: bool) -> None:
        """A line of an invocation's log; one `closed` by its REPORT line keeps that line last."""
        key, ttl = self.keys.invocation(rid), self.settings.log_ttl
        if closed:
            self._late_line(keys=[key], args=[text, ttl], client=pipe)
        else:
            pipe.rpush(key, text)
            pipe.expire(key, ttl)

    def close_invocation(self, pipe, function: str, rid: str, line: str, version: str, size: int,
                         raw: bytes) -> None:
        """The REPORT `line` goes to the function's stream and ends the invocation's log, which is counted
        against its function's bounds (`size`: the bytes it holds; 0: it printed nothing, and has no key);
        the held item `raw` is written."""
        self.line(pipe, function, rid, line, version)
        if size:
            key = self.keys.invocation(rid)
            pipe.rpush(key, line)
            pipe.expire(key, self.settings.log_ttl)
            self.index(function, self.settings.log_function_bytes // 2, rid,
                       min(size, defaults.LOG_INVOCATION_BYTES) + len(line) + 64, client=pipe)
        pipe.lrem(self.keys.held, 1, raw)

    def save_cursors(self, pipe, cursors: dict[str, str], ended: list[str]) -> None:
        """Where each container's stream was read to; no cursor for the `ended` (full container ids)."""
        if cursors:
            pipe.hset(self.keys.cursors, mapping=cursors)
        for container_id in ended:
            pipe.hdel(self.keys.cursors, container_id[:12])

    # -- cursors
    def cursor(self, cid: str) -> str | None:
        """The Docker timestamp of the last line read of container `cid`, None when none was."""
        raw = cast(bytes | None, self.redis.hget(self.keys.cursors, cid))
        return raw.decode() if raw else None

    def cursors(self) -> dict[str, str]:
        raw = cast(dict[bytes, bytes], self.redis.hgetall(self.keys.cursors))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def forget_cursors(self, cids: set[str]) -> None:
        self.redis.hdel(self.keys.cursors, *cids)

    # -- REPORT lines
    def wait_reports(self) -> list[bytes]:
        """REPORT items moved from the queue to the held list, after up to a second's wait for the first."""
        first = cast(bytes | None, self.redis.blmove(self.keys.reports, self.keys.held, 1, "LEFT", "RIGHT"))
        if first is None:
            return []
        return [first] + self.take_reports(1000)

    def take_reports(self, count: int) -> list[bytes]:
        """Up to `count` REPORT items moved from the queue to the held list, at once."""
        return self._take_reports(keys=[self.keys.reports, self.keys.held], args=[count]) or []

    def recover(self) -> None:
        """REPORT lines a collector held when it died go back to the queue (it took them from there)."""
        while self.redis.lmove(self.keys.held, self.keys.reports, "RIGHT", "LEFT"):
            pass

    # -- bounds
    def index(self, function: str, max_bytes: int, rid: str = "", size: int = 0, client=None):
        """Register invocation log `rid` of `size` bytes (none: only trim), then evict the function's oldest
        while over LOG_FUNCTION_INVOCATIONS or `max_bytes`; the bytes its invocation logs keep."""
        return self._index_push(keys=[self.keys.index(function), self.keys.usage],
                                args=[rid, size, function, defaults.LOG_FUNCTION_INVOCATIONS, max_bytes,
                                      self.settings.log_ttl, self.keys.invocation_prefix], client=client)

    def usage(self) -> dict[str, int]:
        """Bytes of logs per function: its stream (as Redis measures it) and its invocation logs."""
        usage = cast(dict[bytes, bytes], self.redis.hgetall(self.keys.usage))
        functions = cast(set[bytes], self.redis.smembers(functions_key(self.settings.redis_prefix)))
        totals = {k.decode(): int(v) for k, v in usage.items()}
        names = set(totals) | self._touched | {n.decode() for n in functions}
        with self.redis.pipeline(transaction=False) as pipe:
            ordered = sorted(names)
            for name in ordered:
                pipe.memory_usage(self.keys.function(name), samples=0)
            sizes = pipe.execute()
        return {name: totals.get(name, 0) + (size or 0) for name, size in zip(ordered, sizes)}

    def enforce_budget(self) -> None:
        """Each function within FAAS_LOG_FUNCTION_MB, all of them within FAAS_LOG_MAX_MB: the largest are
        trimmed first (their oldest invocation logs and stream entries)."""
        self._touched.clear()
        usage = self.usage()
        for name, used in usage.items():
            if used > self.settings.log_function_bytes:
                usage[name] = self._shrink(name, used, self.settings.log_function_bytes)
        cap = self.settings.log_max_bytes
        while usage and sum(usage.values()) > cap:
            name = max(usage, key=lambda n: usage[n])
            used = usage.pop(name)
            if used < 1 << 16:  # what is left is too small to matter: the cap is set too low
                log.warning("Logs take %d bytes, over FAAS_LOG_MAX_MB", sum(usage.values()) + used)
                break
            self._shrink(name, used, used // 2)

    def _shrink(self, name: str, used: int, target: int) -> int:
        """Trim one function's logs to about `target` bytes: half for invocation logs, half for its stream.
        Returns what it keeps."""
        half = target // 2
        kept = int(self.index(name, half) or 0)
        stream = self.keys.function(name)
        size = self._memory(stream)
        if size > half:
            length = cast(int, self.redis.xlen(stream))
            self.redis.xtrim(stream, maxlen=int(length * half / size), approximate=False)
            size = self._memory(stream)
        log.info("Logs of function %s: %d bytes, over its budget: trimmed to %d", name, used, kept + size)
        return kept + size

    def _memory(self, key: str) -> int:
        """Bytes Redis uses for `key` (0: there is none)."""
        return cast(int | None, self.redis.memory_usage(key, samples=0)) or 0
