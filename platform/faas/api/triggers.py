"""Handlers of triggers: the trigger resource, requests through HTTP triggers (events for built-in runtimes,
a proxy for web functions), and publishing to queues."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any

from aiohttp import ChainMapProxy, HttpVersion10, HttpVersion11, web
from multidict import CIMultiDict

from .. import defaults
from ..auth import Role, require
from ..errors import (
    InvalidArgument,
    MethodNotAllowed,
    PayloadTooLarge,
    TriggerNotFound,
)
from ..models import FunctionRecord, check_name, new_request_id
from ..pool.container import RuntimeHeaders
from ..pool.outcome import Outcome
from ..pool.web import failed_answer
from ..triggers import http as th
from ..triggers.function_url import url_event
from ..triggers.model import Trigger
from ..webio import Answer, SentRequest, read_event, response
from .handlers import read_json
from .invocations import accepted, invocation_type
from .keys import ASYNC, METRICS, POOL, RELEASES, SERVICE, TOKENS, TRIGGERS
from .middlewares import role

log = logging.getLogger(__name__)

WSGI_HEADER = "x-fc-http-function"
"""Marks a request proxied to a WSGI function as its client's (the runtime's fcruntime.wsgi.WEB_HEADER): clients'
own x-fc-* headers never reach a function, so only the platform sets it."""
RUNTIME_HEADERS = RuntimeHeaders()


# -- the trigger resource
async def create_trigger(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    service = request.app[TRIGGERS]
    trigger = await service.create(record, await read_json(request, defaults.TRIGGER_BODY_BYTES))
    return web.json_response(await service.describe(trigger), status=201,
                             headers={"Location": f"/v1/functions/{record.name}/triggers/{trigger.name}"})


async def list_triggers(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    service = request.app[TRIGGERS]
    return web.json_response({"triggers": [await service.describe(t) for t in await service.list(record.name)]})


async def get_trigger(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    service = request.app[TRIGGERS]
    return web.json_response(await service.describe(await service.get(record.name, request.match_info["trigger"])))


async def update_trigger(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    service = request.app[TRIGGERS]
    body = await read_json(request, defaults.TRIGGER_BODY_BYTES)
    trigger = await service.update(record, request.match_info["trigger"], body)
    return web.json_response(await service.describe(trigger))


async def delete_trigger(request: web.Request) -> web.Response:
    record = await request.app[SERVICE].get(request.match_info["name"])
    await request.app[TRIGGERS].delete(record.name, request.match_info["trigger"])
    return web.Response(status=204)


# -- queues
@role(Role.INVOKE)
async def publish_message(request: web.Request) -> web.Response:
    name = check_name(request.match_info["name"])
    body = await read_event(request, defaults.QUEUE_MESSAGE_BYTES, what="a message")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("a message is UTF-8 text (encode binary data, for example in base64)") from None
    message_id = await request.app[ASYNC].publish(name, text)
    return web.json_response({"queue": name, "messageId": message_id}, status=201)


# -- requests through HTTP triggers
def _check_size(request: SentRequest) -> None:
    if len(request.raw_path) > defaults.HTTP_TRIGGER_URL_BYTES:
        raise InvalidArgument(f"the path and query string are longer than {defaults.HTTP_TRIGGER_URL_BYTES} bytes")
    size = sum(map(len, chain.from_iterable(request.raw_headers)))
    if size > defaults.HTTP_TRIGGER_HEADER_BYTES:
        raise InvalidArgument(f"the request's headers are larger than {defaults.HTTP_TRIGGER_HEADER_BYTES} bytes")


_PROTOCOLS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}


@role(None)  # the trigger's authType decides
async def http_trigger(request: web.Request) -> web.StreamResponse:
    raw_path, query = th.split_raw_path(request.raw_path)
    return answered(await through_trigger(request, request.app, request.match_info["name"], raw_path, query,
                                          "/" + request.match_info.get("tail", ""), bearer))


async def bearer(request: SentRequest) -> None:
    """A trigger with authType function, on the platform's own path: an invoke or admin token."""
    require(await request.app[TOKENS].authenticate(request.headers.get("Authorization")), Role.INVOKE)


class StreamingNeeded(Exception):
    """The request is for a web function, whose exchange is streamed both ways through aiohttp; the front door's
    plain request (read whole) is then handed to aiohttp."""


async def through_trigger(request: SentRequest, app: web.Application | ChainMapProxy, name: str, raw_path: str,
                          query: str, path: str, authenticate: Callable[[Any], Awaitable[None]],
                          qualifier: str | None = None) -> Answer | web.StreamResponse:
    """A request through `name`'s HTTP trigger, on every surface that has one (`/function/...`, FC 2.0's proxy
    path, the front door's plain requests): `raw_path` and `query` what follows the function's part of the URL, as
    sent; `path` the same path decoded; `authenticate` raises unless the caller may invoke (asked only of a
    trigger with authType function); `qualifier`, when the URL names one, must be the trigger's. A web function's
    request is streamed, which only aiohttp's request can be: StreamingNeeded for any other."""
    _check_size(request)
    name = check_name(name)
    latest = await app[SERVICE].get_cached(name)  # FunctionNotFound first
    trigger = await app[TRIGGERS].http_trigger(name)
    if trigger is None:
        raise TriggerNotFound(f"function {name} has no HTTP trigger")
    if qualifier is not None and qualifier != trigger.qualifier:
        raise TriggerNotFound(f"function {name} has no HTTP trigger of {qualifier} (its trigger runs "
                              f"{trigger.qualifier})")
    config = trigger.http_config
    headers = request.headers
    if config.auth_type == "function":
        await authenticate(request)
    if request.method not in config.methods:
        raise MethodNotAllowed(f"the HTTP trigger of {name} does not accept {request.method}",
                               allow=config.methods)
    kind = invocation_type(headers)
    if kind is None:
        raise InvalidArgument("X-Fc-Invocation-Type must be Sync or Async")
    app[METRICS].trigger_invocation(name, "http")
    drop_auth = config.auth_type == "function"
    if kind == "Async":
        record, async_config = await app[RELEASES].resolve_async(name, trigger.qualifier, latest)
    else:
        record, async_config = await app[RELEASES].resolve(name, trigger.qualifier, latest), None
    if (record.spec.serves_http or record.spec.handler_type == "wsgi") and kind == "Sync":
        if not isinstance(request, web.Request):
            raise StreamingNeeded(name)
        return await _proxy(request, app, record, trigger, drop_auth, raw_path + ("?" + query if query else ""))
    body = await read_event(request, defaults.SYNC_EVENT_BYTES)
    request_id = new_request_id()
    version = request.version
    info = th.RequestInfo(request.method, raw_path, path, query, headers.items(),
                          body, _PROTOCOLS.get(version) or f"HTTP/{version.major}.{version.minor}",
                          request.remote or "", request.host, request_id, time.time())
    lambda_shaped = record.spec.handler_type == "lambda"
    event = url_event(info, drop_auth, name) if lambda_shaped else th.http_event(info, drop_auth)
    if kind == "Async":
        if len(event) > defaults.ASYNC_EVENT_BYTES:
            raise PayloadTooLarge(f"the request's event is larger than {defaults.ASYNC_EVENT_BYTES} bytes, the "
                                  "limit of an async invocation")
        rid = await app[ASYNC].accept(record, event, trigger=trigger.label, config=async_config,
                                      qualifier=trigger.qualifier)
        return accepted(rid, record.version_id)
    outcome = await app[POOL].invoke(record, event, request_id, trigger=trigger.label)
    if outcome.error:
        return failed_answer(request_id, outcome, record)
    try:
        answer = th.http_answer(outcome.body, outcome.content_type or "application/octet-stream", lambda_shaped)
    except th.InvalidResponse as exc:
        return failed_answer(request_id, Outcome.failure(
            "InvalidHttpResponse", f"the function's result is not a valid HTTP response: {exc}"), record)
    reply_headers = CIMultiDict(answer.headers)
    reply_headers["X-Fc-Request-Id"] = request_id
    reply_headers["X-Fc-Function-Version"] = record.version_id
    return Answer(answer.status, reply_headers, answer.body)


def answered(result: Answer | web.StreamResponse) -> web.StreamResponse:
    """through_trigger's result as aiohttp's response."""
    return response(result) if isinstance(result, Answer) else result


async def _proxy(request: web.Request, app: web.Application | ChainMapProxy, record: FunctionRecord,
                 trigger: Trigger, drop_auth: bool, target: str) -> web.StreamResponse:
    """A web function (custom container, or a WSGI function): the request goes to the container's port as it came
    (`target`: its path and query after the function's), and its answer comes back as it is, streamed both ways;
    the function's timeout bounds the whole exchange. On a front end, through the node the function runs on."""
    if request.content_length is not None and request.content_length > defaults.SYNC_EVENT_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {defaults.SYNC_EVENT_BYTES} bytes")
    request_id = new_request_id()
    spec = record.spec
    headers = th.proxied_request_headers(request.headers.items(), drop_auth)
    headers += [("x-fc-request-id", request_id), ("x-fc-function-name", spec.name),
                ("x-fc-function-memory", str(spec.memory_mb)), ("x-fc-function-timeout", str(spec.timeout_s))]
    if spec.handler_type == "wsgi":  # the Python runtime's sign that this is the client's request (fcruntime.wsgi)
        headers += [(WSGI_HEADER, "1"), *RUNTIME_HEADERS(record).items()]
    return await app[POOL].proxy_web(request, record, request_id, target, headers, trigger.label)


def add_trigger_routes(app: web.Application) -> None:
    app.router.add_routes([
        web.post("/v1/functions/{name}/triggers", create_trigger),
        web.get("/v1/functions/{name}/triggers", list_triggers),
        web.get("/v1/functions/{name}/triggers/{trigger}", get_trigger),
        web.put("/v1/functions/{name}/triggers/{trigger}", update_trigger),
        web.delete("/v1/functions/{name}/triggers/{trigger}", delete_trigger),
        web.post("/v1/queues/{name}/messages", publish_message),
        web.route("*", "/function/{name}", http_trigger),
        web.route("*", "/function/{name}/{tail:.*}", http_trigger),
    ])

