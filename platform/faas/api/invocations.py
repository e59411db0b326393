"""Invocations as every surface makes them: the checks of an invoke request's headers, and the invocation itself
(sync: the function's answer; async: accepted once stored). aiohttp's handler (`invoke_function`) and the front
door (`plain`) both call these, so that both answer the same request alike."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

from aiohttp import ChainMapProxy, web

from .. import defaults
from ..auth import PLATFORM_HEADER, Role
from ..errors import Forbidden, InvalidArgument, PayloadTooLarge
from ..logs.keys import PLATFORM_REQUEST_PREFIXES
from ..logs.reader import encode_tail
from ..models import check_name, new_request_id
from ..validate import REQUEST_ID_RE, TRIGGER_LABEL_RE
from ..webio import JSON_TYPE, Answer, qualifier_of, read_event, response
from .keys import ASYNC, LOGS, POOL, RELEASES, TOKENS
from .middlewares import role

INVOCATION_TYPES = {"sync": "Sync", "async": "Async"}

App = web.Application | ChainMapProxy


class Options(NamedTuple):
    """What an invoke request's headers ask for, checked."""

    asynchronous: bool
    tail: bool
    request_id: str | None
    attempt: int
    trigger: str | None

    def limit(self) -> int:
        """The largest event this invocation takes."""
        return event_limit(self.asynchronous)


def event_limit(asynchronous: bool) -> int:
    """The largest event an async or a sync invocation takes."""
    return defaults.ASYNC_EVENT_BYTES if asynchronous else defaults.SYNC_EVENT_BYTES


def invocation_type(headers: Mapping[str, str]) -> str | None:
    """X-Fc-Invocation-Type made Sync or Async; None when it is neither."""
    return INVOCATION_TYPES.get(headers.get("X-Fc-Invocation-Type", "Sync").strip().lower())


async def invocation_options(app: App, headers: Mapping[str, str]) -> Options:
    """The checked options of an invoke request (its X-Fc-* headers; X-Faas-Trigger and X-Fc-Attempt only from
    the platform's own parts). Every header is checked whatever the invocation type."""
    kind = invocation_type(headers)
    if kind is None:
        raise InvalidArgument("X-Fc-Invocation-Type must be Sync or Async")
    request_id = callers_id(headers, "X-Fc-Request-Id")
    task_id = callers_id(headers, "X-Fc-Async-Task-Id")
    attempt = _attempt(headers.get("X-Fc-Attempt"))
    trigger = headers.get("X-Faas-Trigger")
    if trigger is not None and not TRIGGER_LABEL_RE.fullmatch(trigger):
        raise InvalidArgument("X-Faas-Trigger must be <http|timer|queue>/<trigger name>")
    if (trigger is not None or "X-Fc-Attempt" in headers) \
            and not await app[TOKENS].platform.check(headers.get(PLATFORM_HEADER)):
        raise Forbidden("X-Faas-Trigger and X-Fc-Attempt are set by the platform's own parts only")
    log_type = headers.get("X-Fc-Log-Type", "None").lower()
    if log_type not in ("tail", "none"):
        raise InvalidArgument("X-Fc-Log-Type must be Tail or None")
    asynchronous = kind == "Async"
    if task_id is not None and not asynchronous:
        raise InvalidArgument("X-Fc-Async-Task-Id names an async invocation: send X-Fc-Invocation-Type: Async too")
    return Options(asynchronous, log_type == "tail", task_id or request_id, attempt, trigger)


def _attempt(raw: str | None) -> int:
    """X-Fc-Attempt: which attempt of an async event this is (set by the workers), 1 when absent."""
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100000:
        raise InvalidArgument("X-Fc-Attempt must be a whole number from 1")
    return int(raw)


def callers_id(headers: Mapping[str, str], name: str) -> str | None:
    """A request id a caller chose (header `name`), checked: 1-64 letters, digits or '-', and none of the platform's
    own prefixes."""
    value = headers.get(name)
    if value is not None and (not REQUEST_ID_RE.fullmatch(value) or value.startswith(PLATFORM_REQUEST_PREFIXES)):
        raise InvalidArgument(f"{name} must be 1-64 letters, digits or '-', and not start with "
                              + " or ".join(PLATFORM_REQUEST_PREFIXES))
    return value


@role(Role.INVOKE)
async def invoke_function(request: web.Request) -> web.Response:
    """POST /v1/functions/{name}/invocations through aiohttp (the front door takes the plain ones itself)."""
    name = check_name(request.match_info["name"])
    options = await invocation_options(request.app, request.headers)
    qualifier = qualifier_of(request)
    event = await read_event(request, options.limit())
    return response(await invocation(request.app, name, qualifier, event, options))


async def invocation(app: App, name: str, qualifier: str, event: bytes, options: Options) -> Answer:
    """One invocation of `name` at `qualifier` (checked), as every API surface makes it: async (202, accepted
    once stored) or sync (the function's answer, X-Fc-Error-Type when it failed, the log's tail with `tail`).
    The request id is the caller's (checked); an async one's is its task id, accepted once (FC's deduplication)."""
    if len(event) > options.limit():
        raise PayloadTooLarge(f"the event is larger than {options.limit()} bytes")
    request_id = options.request_id
    if options.asynchronous:
        record, config = await app[RELEASES].resolve_async(name, qualifier)
        request_id = await app[ASYNC].accept(record, event, trigger=options.trigger, config=config,
                                             qualifier=qualifier, task_id=request_id)
        return accepted(request_id, record.version_id)
    if request_id is None:
        request_id = new_request_id()
    record = await app[RELEASES].resolve(name, qualifier)
    outcome = await app[POOL].invoke(record, event, request_id, options.attempt, options.trigger)
    headers = {
        "X-Fc-Request-Id": request_id,
        "X-Fc-Cold-Start": "true" if outcome.cold_start else "false",
        "X-Fc-Instance-Id": outcome.instance_id,
        "X-Fc-Function-Version": record.version_id,
    }
    if outcome.error:
        headers["X-Fc-Error-Type"] = outcome.error
    if options.tail:
        headers["X-Fc-Log-Result"] = encode_tail([outcome.report]) if outcome.quiet \
            else await app[LOGS].tail(request_id)
    headers["Content-Type"] = outcome.content_type or "application/octet-stream"
    return Answer(200, headers, outcome.body)


def accepted(request_id: str, version_id: str) -> Answer:
    """An async invocation's answer once its event is stored (every surface's that takes FC's shape)."""
    return Answer(202, {"X-Fc-Request-Id": request_id, "X-Fc-Function-Version": version_id, "Content-Type": JSON_TYPE},
                  json.dumps({"requestId": request_id}).encode())


async def invoke(app: App, name: str, qualifier: str, event: bytes, *, asynchronous: bool, tail: bool = False,
                 request_id: str | None = None, attempt: int = 1, trigger: str | None = None) -> web.Response:
    """`invocation`, answered as aiohttp's response (the other API surfaces call this)."""
    options = Options(asynchronous, tail, request_id, attempt, trigger)
    return response(await invocation(app, name, qualifier, event, options))

