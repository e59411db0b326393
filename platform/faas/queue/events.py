"""Async events in Redis: accepting one, the record of its life, retries, and its end at a destination.

An accepted event lives in its record (`inv:{id}`) and in `pending` until it ends; meanwhile exactly one
of `ready`, `delayed` or a worker's `inflight` list holds its id. Every move between them is one
MULTI/EXEC, so a crash leaves it in one place or the other, never nowhere; the sweeper puts back what a
dead worker held and audits for anything no list holds (keys.py has the key names).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from ..defaults import ASYNC_RECENT, LATEST, RECENT_TTL_S
from ..models import AsyncConfig, FunctionRecord
from .keys import Keys
from .policy import STOPPING, TERMINAL, Condition, EventStatus, Kind

STOP_REQUESTED = "stopRequested"
"""The field of an event's record that says its stop was asked for (when, as a time.time())."""

_TERMINAL_LUA = "local terminal = {" + ", ".join(f"['{s.value}'] = true" for s in sorted(TERMINAL)) + "}\n"

STOP = _TERMINAL_LUA + f"""
-- KEYS: the event's record, delayed, ready. ARGV: now, the request id.
-- Asks for the event's stop; a waiting retry is made ready, so that a worker ends it now. Its status before
-- (an ended event is left as it is), or false when there is no record.
local status = redis.call('HGET', KEYS[1], 'status')
if not status or terminal[status] then return status end
redis.call('HSET', KEYS[1], '{STOP_REQUESTED}', ARGV[1], 'updatedAt', ARGV[1])
if redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then
  redis.call('HDEL', KEYS[1], 'nextAttemptAt')
  redis.call('LPUSH', KEYS[3], ARGV[2])
end
return status
"""

BEGIN = _TERMINAL_LUA + f"""
-- KEYS: the event's record. ARGV: now, the worker's id.
-- Starts an attempt, unless the event ended or its stop was asked for meanwhile (checked in the same step, so a
-- stop asked for after a worker read the record is never overwritten by `running`). The attempt's number; 0:
-- no record, or ended; -1: to be ended as stopped.
local status = redis.call('HGET', KEYS[1], 'status')
if not status or terminal[status] then return 0 end
if redis.call('HEXISTS', KEYS[1], '{STOP_REQUESTED}') == 1 then return -1 end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', '{EventStatus.RUNNING.value}', 'updatedAt', ARGV[1], 'worker', ARGV[2])
redis.call('HSETNX', KEYS[1], 'startedAt', ARGV[1])
return attempt
"""


def new_event(record: FunctionRecord, event: bytes, now: float, config: AsyncConfig | None = None,
              qualifier: str = LATEST) -> dict[str, str | bytes]:
    """The fields of a new event's record: the event, the version it runs (`record`'s, chosen now from
    `qualifier`, so that every attempt runs the same one) and its async settings as they are now (`config`,
    else the version's own)."""
    spec = record.spec
    cfg = config or spec.async_config
    return {
        "function": spec.name,
        "qualifier": qualifier,
        "version": record.version_id,
        "event": event,
        "status": EventStatus.QUEUED.value,
        "acceptedAt": repr(now),
        "updatedAt": repr(now),
        "attempts": "0",
        "functionErrors": "0",
        "systemRetries": "0",
        "retries": str(cfg.retries),
        "maxEventAge": "" if cfg.max_event_age_s is None else str(cfg.max_event_age_s),
        "onSuccess": cfg.on_success or "",
        "onFailure": cfg.on_failure or "",
        "timeout": str(spec.timeout_s),
    }


QUEUE = """
-- KEYS: the event's record, pending, ready. ARGV: now, the request id, '1' when the id is the caller's (then
-- only if no record has it), the record's fields and values. 1: stored and ready; 0: the id was taken.
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[2])
return 1
"""


def queue_event(pipe, keys: Keys, request_id: str, fields: dict, now: float, callers_id: bool = False) -> None:
    """Add the commands that store a new event, make it ready and list it among its function's recent ones, to a
    MULTI pipeline (sync or async). With `callers_id` (an id its caller chose) nothing is stored when an event
    has the id already: the pipeline's first reply is then 0 instead of 1, and its caller lists it (`remember`)
    only once it is stored."""
    flat = [item for pair in fields.items() for item in pair]
    pipe.eval(QUEUE, 3, keys.invocation(request_id), keys.pending, keys.ready, repr(now), request_id,
              "1" if callers_id else "0", *flat)
    if not callers_id:
        remember(pipe, keys, fields["function"], request_id, now)


def remember(pipe, keys: Keys, function: str | bytes, request_id: str, now: float) -> None:
    """Add the commands that list a new event among its function's recent ones (at most ASYNC_RECENT), to a
    pipeline. For listings only: the event's life never depends on this index."""
    if isinstance(function, bytes):
        function = function.decode()
    key = keys.recent(function)
    pipe.zadd(key, {request_id: now})
    pipe.zremrangebyrank(key, 0, -ASYNC_RECENT - 1)
    pipe.expire(key, RECENT_TTL_S)


def schedule_retry(pipe, keys: Keys, request_id: str, kind: Kind, due: float, last_error: str, now: float,
                   holder: str | None = None, **fields: str) -> None:
    """Add the commands that put an event in `delayed` until `due` (a time.time()), out of the list that
    held it (`holder`, a worker's inflight list), to a MULTI pipeline (sync or async), and count the retry
    by `kind`. `last_error` is the JSON of the error that made it wait; `fields` more fields of its record."""
    if holder:
        pipe.lrem(holder, 0, request_id)
    pipe.hset(keys.invocation(request_id), mapping={
        "status": EventStatus.RETRYING.value, "nextAttemptAt": repr(due), "updatedAt": repr(now),
        "lastError": last_error, **fields})
    pipe.zadd(keys.delayed, {request_id: due})
    pipe.hincrby(keys.stats, f"retry:{kind.value}", 1)


def error_json(error_type: str, message: str) -> str:
    """The `lastError` of an attempt that the platform, not the function, ended."""
    return json.dumps({"errorType": error_type, "errorMessage": message})


def _text(raw: bytes) -> tuple[str, str | None]:
    """(payload, encoding): utf-8 text as it is, anything else in base64."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), "base64"


def destination_record(request_id: str, function: str, condition: Condition, invoke_count: int, event: bytes,
                       status_code: int | None, function_error: str | None, response: bytes | None,
                       now: float) -> dict:
    """The record sent to a destination, in Function Compute's destination event format."""
    payload, payload_encoding = _text(event)
    record = {
        "timestamp": int(now * 1000),
        "requestContext": {"requestId": request_id, "functionName": function, "condition": condition.value,
                           "approximateInvokeCount": invoke_count},
        "requestPayload": payload,
        "responseContext": {"statusCode": status_code, "functionError": function_error},
        "responsePayload": None,
    }
    if payload_encoding:
        record["requestPayloadEncoding"] = payload_encoding
    if response is not None:
        record["responsePayload"], response_encoding = _text(response)
        if response_encoding:
            record["responsePayloadEncoding"] = response_encoding
    return record


@dataclass(frozen=True)
class EventView:
    """An event's record as the API shows it."""

    fields: dict[bytes, bytes]

    def get(self, name: str, default: str = "") -> str:
        raw = self.fields.get(name.encode())
        return default if raw is None else raw.decode("utf-8", "replace")

    def number(self, name: str) -> float | None:
        raw = self.get(name)
        return float(raw) if raw else None

    def status(self) -> str:
        """The status the API shows: `stopping` for one not ended whose stop was asked for."""
        status = self.get("status")
        return STOPPING if STOP_REQUESTED.encode() in self.fields and status not in TERMINAL else status

    def to_api(self, request_id: str, result: bool = True) -> dict:
        """The record; without its result (and its type) when `result` is false, as listings show it."""
        out = {
            "requestId": request_id,
            "functionName": self.get("function"),
            "qualifier": self.get("qualifier", LATEST),
            "versionId": self.get("version", LATEST),
            "status": self.status(),
            "attempts": int(self.get("attempts", "0")),
            "functionErrors": int(self.get("functionErrors", "0")),
            "systemRetries": int(self.get("systemRetries", "0")),
            "acceptedAt": self.number("acceptedAt"),
            "startedAt": self.number("startedAt"),
            "updatedAt": self.number("updatedAt"),
            "endedAt": self.number("endedAt"),
            "nextAttemptAt": self.number("nextAttemptAt"),
            "condition": self.get("condition") or None,
            "destination": self.get("destination") or None,
            "lastError": json.loads(self.get("lastError")) if self.get("lastError") else None,
            "trigger": None,
            "result": None,
        }
        trigger = self.get("trigger")
        if trigger:
            kind, _, name = trigger.partition("/")
            out["trigger"] = {"triggerType": kind, "triggerName": name}
        if not result:
            del out["result"]
            return out
        raw = self.fields.get(b"result")
        if raw is not None:
            out["result"], encoding = _text(raw)
            if encoding:
                out["resultEncoding"] = encoding
            out["resultContentType"] = self.get("resultType") or None
        return out


def parse_destination(target: str) -> tuple[str, str]:
    """('queue' | 'function', name) of 'queue:<name>' or 'function:<name>'."""
    kind, _, name = target.partition(":")
    return kind, name
