"""Triggers as values: their configs, validated on construction (Function Compute's fields), and when a
timer fires next. No I/O."""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from croniter import croniter

from .. import defaults
from ..errors import InvalidArgument
from ..models import check_description
from ..qualifiers import LATEST, check_qualifier

TYPES = ("http", "timer", "queue")
_NAME_RE = re.compile(defaults.TRIGGER_NAME_PATTERN)
_QUEUE_RE = re.compile(defaults.NAME_PATTERN)
_EVERY_RE = re.compile(r"@every (?:(\d{1,7})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?")
_CRON_FIELD_RE = re.compile(r"[0-9A-Za-z*/,?#-]{1,64}")
_ZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")


def check_trigger_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidArgument(f"triggerName must match ^{defaults.TRIGGER_NAME_PATTERN}$ (a letter, then up to 127 "
                              "letters, digits, '_' or '-')")
    return name


def _keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgument(f"unknown field(s) in {where}: {', '.join(unknown)}")


def _int(data: dict, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = data.get(key, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"triggerConfig.{key} must be a whole number from {low} to {high}")
    return value


@dataclass(frozen=True)
class HttpConfig:
    auth_type: str = "function"
    """`anonymous` (anyone) or `function` (an invoke or admin token)."""
    methods: tuple[str, ...] = defaults.HTTP_METHODS

    @classmethod
    def from_api(cls, data: dict) -> "HttpConfig":
        _keys(data, {"authType", "methods"}, "triggerConfig")
        auth = data.get("authType", "function")
        if auth not in ("anonymous", "function"):
            raise InvalidArgument("triggerConfig.authType must be anonymous or function")
        methods = data.get("methods", list(defaults.HTTP_METHODS))
        if not isinstance(methods, list) or not methods or len(set(map(str, methods))) != len(methods) or \
                not all(isinstance(m, str) and m in defaults.HTTP_METHODS for m in methods):
            raise InvalidArgument("triggerConfig.methods must be a non-empty list of distinct methods from "
                                  + ", ".join(defaults.HTTP_METHODS))
        ordered = tuple(m for m in defaults.HTTP_METHODS if m in methods)
        return cls(auth_type=auth, methods=ordered)

    def to_api(self) -> dict:
        return {"authType": self.auth_type, "methods": list(self.methods)}


@dataclass(frozen=True)
class Schedule:
    """A parsed cronExpression: an interval (`@every`) or a 6-field cron with seconds, in a time zone."""

    every_s: int | None
    cron: str | None
    zone: str

    @classmethod
    def parse(cls, text: Any) -> "Schedule":
        if not isinstance(text, str) or not text or len(text) > 256 or not text.isprintable():
            raise InvalidArgument("triggerConfig.cronExpression must be a string such as '@every 1m' or "
                                  "'0 0/5 * * * *'")
        zone = "UTC"
        expr = text
        if expr.startswith("CRON_TZ="):
            zone, _, expr = expr[len("CRON_TZ="):].partition(" ")
            if not _ZONE_RE.fullmatch(zone):
                raise InvalidArgument(f"triggerConfig.cronExpression: {zone!r} is not a time zone name")
            try:
                ZoneInfo(zone)
            except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
                raise InvalidArgument(f"triggerConfig.cronExpression: unknown time zone {zone!r}") from None
        if expr.startswith("@every"):
            if zone != "UTC":
                raise InvalidArgument("triggerConfig.cronExpression: CRON_TZ does not apply to @every")
            match = _EVERY_RE.fullmatch(expr)
            if match is None or not any(match.groups()):
                raise InvalidArgument("triggerConfig.cronExpression: @every takes a duration such as 30s, 5m or "
                                      "1h30m")
            hours, minutes, seconds = (int(g or 0) for g in match.groups())
            total = hours * 3600 + minutes * 60 + seconds
            if not defaults.TIMER_MIN_INTERVAL_S <= total <= defaults.TIMER_MAX_INTERVAL_S:
                raise InvalidArgument(f"triggerConfig.cronExpression: @every must be from "
                                      f"{defaults.TIMER_MIN_INTERVAL_S}s to {defaults.TIMER_MAX_INTERVAL_S // 86400} "
                                      "days")
            return cls(every_s=total, cron=None, zone=zone)
        fields = expr.split(" ")
        if len(fields) != 6 or not all(_CRON_FIELD_RE.fullmatch(f) for f in fields):
            raise InvalidArgument("triggerConfig.cronExpression: a cron expression has 6 fields separated by one "
                                  "space: seconds minutes hours day-of-month month day-of-week")
        try:
            valid = croniter.is_valid(expr, second_at_beginning=True)
        except Exception:  # noqa: BLE001 - croniter raises several kinds for bad input
            valid = False
        if not valid:
            raise InvalidArgument(f"triggerConfig.cronExpression: {expr!r} is not a valid cron expression")
        return cls(every_s=None, cron=expr, zone=zone)

    def next_after(self, after: float, anchor: float) -> float:
        """The first firing time strictly after `after` (epoch seconds). `anchor`: when an `@every`
        schedule started (its firings are anchor + k * interval)."""
        if self.every_s is not None:
            k = math.floor((after - anchor) / self.every_s) + 1
            return anchor + max(1, k) * self.every_s
        tz = timezone.utc if self.zone == "UTC" else ZoneInfo(self.zone)
        start = datetime.fromtimestamp(math.floor(after), tz)
        return croniter(self.cron, start, second_at_beginning=True).get_next(float)


@dataclass(frozen=True)
class TimerConfig:
    cron_expression: str
    schedule: Schedule = field(compare=False, repr=False)
    """The expression parsed: once, where it is validated."""
    payload: str = ""
    enable: bool = True

    @classmethod
    def from_api(cls, data: dict) -> "TimerConfig":
        _keys(data, {"cronExpression", "payload", "enable"}, "triggerConfig")
        if "cronExpression" not in data:
            raise InvalidArgument("triggerConfig.cronExpression is required")
        schedule = Schedule.parse(data["cronExpression"])
        payload = data.get("payload", "")
        if payload is None:
            payload = ""
        if not isinstance(payload, str) or len(payload.encode("utf-8", "replace")) > defaults.TIMER_PAYLOAD_BYTES:
            raise InvalidArgument(f"triggerConfig.payload must be a string of at most "
                                  f"{defaults.TIMER_PAYLOAD_BYTES} bytes")
        enable = data.get("enable", True)
        if not isinstance(enable, bool):
            raise InvalidArgument("triggerConfig.enable must be true or false")
        return cls(cron_expression=data["cronExpression"], schedule=schedule, payload=payload, enable=enable)

    def to_api(self) -> dict:
        return {"cronExpression": self.cron_expression, "payload": self.payload, "enable": self.enable}


@dataclass(frozen=True)
class QueueConfig:
    queue_name: str
    batch_size: int = 1
    batch_window_s: int = 0
    start_from: str = "latest"

    @classmethod
    def from_api(cls, data: dict) -> "QueueConfig":
        _keys(data, {"queueName", "batchSize", "batchWindowSeconds", "startFrom"}, "triggerConfig")
        name = data.get("queueName")
        if not isinstance(name, str) or not _QUEUE_RE.fullmatch(name):
            raise InvalidArgument(f"triggerConfig.queueName must match {defaults.NAME_PATTERN}")
        start = data.get("startFrom", "latest")
        if start not in ("latest", "earliest"):
            raise InvalidArgument("triggerConfig.startFrom must be latest or earliest")
        return cls(queue_name=name, batch_size=_int(data, "batchSize", 1, defaults.QUEUE_BATCH_RANGE),
                   batch_window_s=_int(data, "batchWindowSeconds", 0, defaults.QUEUE_WINDOW_S_RANGE),
                   start_from=start)

    def to_api(self) -> dict:
        return {"queueName": self.queue_name, "batchSize": self.batch_size,
                "batchWindowSeconds": self.batch_window_s, "startFrom": self.start_from}


Config = HttpConfig | TimerConfig | QueueConfig
CONFIGS: dict[str, type[HttpConfig] | type[TimerConfig] | type[QueueConfig]] = {
    "http": HttpConfig, "timer": TimerConfig, "queue": QueueConfig}
_C = TypeVar("_C", bound=Config)


def parse_config(trigger_type: str, raw: Any) -> Config:
    """A trigger's config from the API: an object, or a JSON string of one (as FC 3.0's SDK sends it)."""
    if raw is None and trigger_type == "http":
        raw = {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidArgument("triggerConfig is a string that is not JSON") from None
    if not isinstance(raw, dict):
        raise InvalidArgument("triggerConfig must be an object (or a JSON string of one)")
    return CONFIGS[trigger_type].from_api(raw)


@dataclass(frozen=True)
class Trigger:
    function: str
    function_id: str
    name: str
    type: str
    config: Config
    """Of its type's class: the typed accessors below read it where the type is known."""
    description: str = ""
    trigger_id: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    qualifier: str = LATEST
    """What its events run: LATEST, a version id or an alias."""

    _CREATE_KEYS = {"triggerName", "triggerType", "triggerConfig", "description", "qualifier"}

    @functools.cached_property
    def label(self) -> str:
        """`<type>/<name>`: how invocation records, logs and metrics name it."""
        return f"{self.type}/{self.name}"

    @property
    def member(self) -> str:
        """`<function>/<name>`: the trigger in the platform-wide timer and queue indexes."""
        return f"{self.function}/{self.name}"

    @property
    def http_config(self) -> HttpConfig:
        return _config_as(self, HttpConfig)

    @property
    def timer_config(self) -> TimerConfig:
        return _config_as(self, TimerConfig)

    @property
    def queue_config(self) -> QueueConfig:
        return _config_as(self, QueueConfig)

    @classmethod
    def from_create(cls, function: str, function_id: str, body: Any, trigger_id: str, now: float) -> "Trigger":
        if not isinstance(body, dict):
            raise InvalidArgument("the body must be a JSON object")
        _keys(body, cls._CREATE_KEYS, "the trigger")
        name = check_trigger_name(body.get("triggerName"))
        kind = body.get("triggerType")
        if kind not in TYPES:
            raise InvalidArgument("triggerType must be one of " + ", ".join(TYPES))
        return cls(function=function, function_id=function_id, name=name, type=kind,
                   config=parse_config(kind, body.get("triggerConfig")), description=check_description(body, ""),
                   trigger_id=trigger_id, created_at=now, updated_at=now,
                   qualifier=check_qualifier(body.get("qualifier", LATEST)))

    def updated(self, body: Any, now: float) -> "Trigger":
        """This trigger with an update body applied: triggerConfig, description and qualifier may change."""
        if not isinstance(body, dict):
            raise InvalidArgument("the body must be a JSON object")
        _keys(body, self._CREATE_KEYS, "the trigger")
        if "triggerName" in body and body["triggerName"] != self.name:
            raise InvalidArgument("triggerName cannot be changed")
        if "triggerType" in body and body["triggerType"] != self.type:
            raise InvalidArgument("triggerType cannot be changed: delete the trigger and create another")
        config = parse_config(self.type, body["triggerConfig"]) if "triggerConfig" in body else self.config
        qualifier = check_qualifier(body["qualifier"]) if "qualifier" in body else self.qualifier
        return replace(self, config=config, description=check_description(body, self.description), updated_at=now,
                       qualifier=qualifier)

    def to_api(self) -> dict:
        out = {"triggerName": self.name, "triggerType": self.type, "triggerConfig": self.config.to_api(),
               "description": self.description, "triggerId": self.trigger_id, "functionName": self.function,
               "qualifier": self.qualifier, "createdAt": self.created_at, "updatedAt": self.updated_at}
        if self.type == "http":
            out["urlPath"] = f"/function/{self.function}"
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_api() | {"functionId": self.function_id})

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Trigger":
        data = json.loads(raw)
        return cls(function=data["functionName"], function_id=data.get("functionId", ""), name=data["triggerName"],
                   type=data["triggerType"], config=parse_config(data["triggerType"], data["triggerConfig"]),
                   description=data.get("description", ""), trigger_id=data.get("triggerId", ""),
                   created_at=data.get("createdAt", 0.0), updated_at=data.get("updatedAt", 0.0),
                   qualifier=data.get("qualifier", LATEST))


def _config_as(trigger: Trigger, kind: type[_C]) -> _C:
    """`trigger`'s config as `kind`, for a caller that found it as a trigger of that type."""
    if not isinstance(trigger.config, kind):
        raise TypeError(f"trigger {trigger.member} is a {trigger.type} trigger, not the kind asked for")
    return trigger.config


def iso_utc(ts: float) -> str:
    """FC's timestamp format: 2026-11-27T07:49:00Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
