"""Thin handlers: parse, validate, call, respond."""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from pathlib import Path

from aiohttp import ChainMapProxy, web
from redis.exceptions import RedisError

from .. import defaults
from ..auth import Role
from ..errors import InvalidArgument, InvocationEnded, InvocationNotFound
from ..metrics import CONTENT_TYPE, async_families
from ..models import check_name
from ..queue.policy import API_STATUSES, EventStatus
from ..triggers.http import begin_answer
from ..validate import REQUEST_ID_RE
from ..webio import qualifier_of, read_event
from .invocations import invoke_function
from .keys import ASYNC, CLOSING, DOCKER, LOGS, METRICS, POOL, REDIS, RELEASES, SERVICE, SETTINGS
from .middlewares import role
from .runtimes import list_runtimes

log = logging.getLogger(__name__)

_STREAM_ID_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
_PREFIX_RE = re.compile(defaults.NAME_PATTERN)
"""A `prefix` of GET /v1/functions: any start of a name is a name by its pattern."""
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


async def read_json(request: web.Request, limit: int = defaults.REQUEST_BYTES) -> object:
    raw = await read_event(request, limit, what="the request body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument("the body is JSON nested too deeply") from None


# -- functions
async def create_function(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].create(await read_json(request))
    return web.json_response(record.to_api(), status=201, headers={"Location": f"/v1/functions/{record.name}"})


async def list_functions(request: web.Request) -> web.Response:
    """Every function by name; with `limit` (or `nextToken`, or `prefix`), a page of them and the next page's
    `nextToken` (null: this was the last)."""
    query = request.query
    prefix, token = query.get("prefix", ""), query.get("nextToken")
    if prefix and not _PREFIX_RE.fullmatch(prefix):
        raise InvalidArgument(f"prefix must be the start of a function name ({defaults.NAME_PATTERN})")
    if token is not None:
        check_name(token)
    if "limit" not in query and token is None and not prefix:
        return web.json_response({"functions": [r.to_api() for r in await request.app[SERVICE].list()]})
    limit = whole_query(query, "limit", defaults.FUNCTION_LIST_LIMIT, 1, defaults.FUNCTION_LIST_LIMIT)
    records, following = await request.app[SERVICE].page(prefix, token, limit)
    return web.json_response({"functions": [r.to_api() for r in records], "nextToken": following})


async def get_function(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    return web.json_response(record.to_api())


async def update_function(request: web.Request) -> web.Response:
    name = check_name(request.match_info["name"])
    record = await request.app[SERVICE].update(name, await read_json(request))
    return web.json_response(record.to_api())


async def delete_function(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete(request.match_info["name"])
    return web.Response(status=204)


async def get_build_log(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    text = await request.app[SERVICE].store.build_log(record.name) or ""
    return web.Response(text=text, content_type="text/plain")


# -- invocations (invoke_function and invoke: .invocations)
def _request_id(request: web.Request) -> str:
    request_id = request.match_info["request_id"]
    if not REQUEST_ID_RE.fullmatch(request_id):
        raise InvalidArgument("a request id is 1-64 letters, digits or '-'")
    return request_id


@role(Role.INVOKE)
async def get_invocation(request: web.Request) -> web.Response:
    request_id = _request_id(request)
    status = await request.app[ASYNC].status(request_id)
    if status is None:
        raise InvocationNotFound(f"no async invocation {request_id} (or its record expired)")
    return web.json_response(status)


@role(Role.INVOKE)
async def stop_invocation(request: web.Request) -> web.Response:
    """Stop an async invocation: it is not run again and goes to no destination (see queue.policy.STOPPING)."""
    request_id = _request_id(request)
    await stop(request.app, request_id)
    status = await request.app[ASYNC].status(request_id)
    if status is None:  # (it expired in between)
        raise InvocationNotFound(f"no async invocation {request_id} (or its record expired)")
    return web.json_response(status)


async def stop(app: web.Application | ChainMapProxy, request_id: str) -> None:
    """Stop an async invocation, as every API surface does: InvocationNotFound, or InvocationEnded when it had
    succeeded or failed (stopping a stopped one again is no error)."""
    before = await app[ASYNC].stop(request_id)
    if before is None:
        raise InvocationNotFound(f"no async invocation {request_id} (or its record expired)")
    if before in (EventStatus.SUCCEEDED, EventStatus.FAILED):
        raise InvocationEnded(f"async invocation {request_id} has {before}: there is nothing to stop")


@role(Role.INVOKE)
async def get_invocation_logs(request: web.Request) -> web.Response:
    request_id = _request_id(request)
    function = request.query.get("function")
    if function is not None:
        check_name(function)
    lines = await request.app[LOGS].invocation(request_id, function)
    if lines is None:
        raise InvocationNotFound(f"no logs of invocation {request_id}: none yet, or they expired, or it printed "
                                 "nothing (then its REPORT line is found with ?function=NAME)")
    return web.Response(text="".join(line + "\n" for line in lines), content_type="text/plain")


async def get_function_logs(request: web.Request) -> web.StreamResponse:
    record = await request.app[SERVICE].get(request.match_info["name"])
    try:
        tail = int(request.query.get("tail", "100"))
    except ValueError:
        raise InvalidArgument("tail must be a whole number") from None
    if not 0 <= tail <= defaults.LOG_FUNCTION_LINES:
        raise InvalidArgument(f"tail must be between 0 and {defaults.LOG_FUNCTION_LINES}")
    flag = request.query.get("follow", "false")
    if flag not in _FLAGS:
        raise InvalidArgument("follow must be true or false (or 1, 0, yes, no)")
    follow = _FLAGS[flag]
    versions = None  # every version's lines, unless a qualifier is asked for
    if request.query.get("qualifier") is not None:
        versions = await request.app[RELEASES].version_ids(record.name, qualifier_of(request))
    reader = request.app[LOGS]
    lines, last = await reader.function(record.name, tail, versions)
    if not follow:
        return web.Response(text=_log_text(lines), content_type="text/plain")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache"})
    await begin_answer(request, resp)
    await resp.write(_log_text(lines).encode())
    deadline = time.monotonic() + request.app[SETTINGS].log_follow_s
    closing = request.app[CLOSING]
    # Until its time is up, the server stops (the stream then ends whole) or the client goes away (a write would
    # notice it only once a line came).
    while time.monotonic() < deadline and not closing.is_set() and _connected(request):
        lines, last = await reader.follow(record.name, last, versions=versions)
        if lines:
            await resp.write(_log_text(lines).encode())  # raises when the client went away: the loop ends
    await resp.write_eof()
    return resp


def _connected(request: web.Request) -> bool:
    return request.transport is not None and not request.transport.is_closing()


def _log_text(lines: list[tuple[str, str]]) -> str:
    return "".join(f"{rid or '-'} {line}\n" for rid, line in lines)


def _message_id(value: str, what: str, below: int) -> str:
    """`value` when it is a queue message id (two numbers, each below `below`); else InvalidArgument."""
    if not (_STREAM_ID_RE.fullmatch(value) and all(int(n) < below for n in value.split("-"))):
        raise InvalidArgument(f"{what} must be a message id such as 1700000000000-0")
    return value


async def read_queue(request: web.Request) -> web.Response:
    name = check_name(request.match_info["name"])
    after = request.query.get("after")
    if after is not None:
        _message_id(after, "after", 2 ** 64)
    count = whole_query(request.query, "count", 100, 1, 1000)
    messages = await request.app[ASYNC].read_queue(name, after or "", count)
    return web.json_response({"queue": name, "messages": messages,
                              "next": messages[-1]["id"] if messages else (after or None)})


async def delete_queue_messages(request: web.Request) -> web.Response:
    """A reader is done with a queue's messages up to `through`: they go (but for those a trigger of the queue
    has not taken yet), which makes room in a queue without triggers."""
    name = check_name(request.match_info["name"])
    through = _message_id(request.query.get("through", ""), "through", 2 ** 64 - 1)  # (the trim adds one)
    deleted = await request.app[ASYNC].delete_messages(name, through)
    return web.json_response({"queue": name, "deleted": deleted})


async def list_async_invocations(request: web.Request) -> web.Response:
    """The function's newest async invocations (their records without results), newest first."""
    record = await request.app[SERVICE].get(request.match_info["name"])
    status = request.query.get("status")
    if status is not None and status not in API_STATUSES:
        raise InvalidArgument("status must be one of " + ", ".join(API_STATUSES))
    limit = whole_query(request.query, "limit", 50, 1, defaults.ASYNC_LIST_LIMIT)
    after = request.query.get("after")
    if after is not None and not REQUEST_ID_RE.fullmatch(after):
        raise InvalidArgument("after must be a request id")
    found = await request.app[ASYNC].recent(record.name, status, limit, after)
    body: dict = {"functionName": record.name, "invocations": found}
    if len(found) == limit:
        body["next"] = found[-1]["requestId"]
    return web.json_response(body)


def whole_query(query, name: str, default: int, low: int, high: int) -> int:
    """Query parameter `name`, a whole number from `low` to `high` in ASCII digits alone (`int()` would take
    spaces, a newline or other scripts' digits); `default` when it is absent."""
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise InvalidArgument(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


async def stats(request: web.Request) -> web.Response:
    """Each function's invocations, errors and cold starts in the last hour, as this control plane saw them."""
    metrics = request.app[METRICS]
    return web.json_response({"windowSeconds": metrics.activity.window_s,
                              "functions": metrics.activity.snapshot()})


async def list_instances(request: web.Request) -> web.Response:
    """The containers of the versions a qualifier runs (LATEST's by default)."""
    record = await request.app[SERVICE].get(request.match_info["name"])
    qualifier = qualifier_of(request)
    versions = await request.app[RELEASES].version_ids(record.name, qualifier)
    instances = await request.app[POOL].describe(record.name, versions)
    keep_alive = await request.app[POOL].keep_alive(record.name, versions)
    reserved = await request.app[RELEASES].target(record.name, qualifier)
    return web.json_response({"functionName": record.name, "qualifier": qualifier, "versionIds": sorted(versions),
                              "revision": record.revision, "reservedInstances": reserved, "instances": instances,
                              "keepAlive": keep_alive})


# -- platform
OPENAPI = Path(__file__).with_name("openapi.json")
"""The API's contract, kept in the repository and served as it is."""


@role(None)
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=_openapi_bytes(), content_type="application/json")


@functools.cache
def _openapi_bytes() -> bytes:
    return OPENAPI.read_bytes()


@role(None)
async def healthz(request: web.Request) -> web.Response:
    checks = {"redis": "ok", "docker": "ok"}
    try:
        await request.app[REDIS].ping()
    except Exception as exc:  # any failure to answer is "down"
        checks["redis"] = f"down: {exc}"
    if not await request.app[DOCKER].ping():
        checks["docker"] = "down"
    down = any(v != "ok" for v in checks.values())  # nothing works without them: 503
    checks |= {part: f"degraded: {why}" for part, why in request.app[POOL].problems().items()}
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ok else "degraded", "checks": checks}, status=503 if down else 200)


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    try:
        queued = async_families(await app[ASYNC].stats())
    except RedisError as exc:  # the pool's metrics still answer while Redis is away
        log.warning("/metrics: async metrics left out: %s", exc)
        queued = []
    body = app[METRICS].render(app[POOL].metric_families(), queued)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "X-Content-Type-Options": "nosniff"})


def add_routes(app: web.Application) -> None:
    app.router.add_routes([
        web.get("/healthz", healthz),
        web.get("/v1/openapi.json", openapi),
        web.get("/metrics", metrics),
        web.post("/v1/functions", create_function),
        web.get("/v1/functions", list_functions),
        web.get("/v1/functions/{name}", get_function),
        web.put("/v1/functions/{name}", update_function),
        web.delete("/v1/functions/{name}", delete_function),
        web.get("/v1/functions/{name}/build-log", get_build_log),
        web.get("/v1/functions/{name}/instances", list_instances),
        web.post("/v1/functions/{name}/invocations", invoke_function),
        web.get("/v1/functions/{name}/invocations", list_async_invocations),
        web.get("/v1/stats", stats),
        web.get("/v1/runtimes", list_runtimes),
        web.get("/v1/invocations/{request_id}", get_invocation),
        web.get("/v1/invocations/{request_id}/logs", get_invocation_logs),
        web.post("/v1/invocations/{request_id}/stop", stop_invocation),
        web.get("/v1/functions/{name}/logs", get_function_logs),
        web.get("/v1/queues/{name}/messages", read_queue),
        web.delete("/v1/queues/{name}/messages", delete_queue_messages),
    ])
