"""Handlers of triggers: the trigger resource, requests through HTTP triggers (events for built-in runtimes,
a proxy for web functions), and publishing to queues."""

from __future__ import annotations

import asyncio
import logging
import time
from itertools import chain

import aiohttp
from aiohttp import HttpVersion10, HttpVersion11, web
from multidict import CIMultiDict

from .. import defaults
from ..auth import Role, require
from ..cluster.remote import RemotePool
from ..errors import (
    InvalidArgument,
    MethodNotAllowed,
    PayloadTooLarge,
    TriggerNotFound,
)
from ..models import FunctionRecord, check_name, new_request_id
from ..pool.calls import invalid_reply
from ..pool.http import ProtocolError
from ..pool.outcome import UNHANDLED, InitFailed, Outcome
from ..triggers import http as th
from ..triggers.model import Trigger
from .handlers import INVOCATION_TYPES, read_event, read_json
from .keys import ASYNC, HTTP_CLIENT, METRICS, POOL, RELEASES, SERVICE, TOKENS, TRIGGERS
from .middlewares import role

log = logging.getLogger(__name__)


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
def _check_size(request: web.Request) -> None:
    if len(request.raw_path) > defaults.HTTP_TRIGGER_URL_BYTES:
        raise InvalidArgument(f"the path and query string are longer than {defaults.HTTP_TRIGGER_URL_BYTES} bytes")
    size = sum(map(len, chain.from_iterable(request.raw_headers)))
    if size > defaults.HTTP_TRIGGER_HEADER_BYTES:
        raise InvalidArgument(f"the request's headers are larger than {defaults.HTTP_TRIGGER_HEADER_BYTES} bytes")


_PROTOCOLS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}


@role(None)  # the trigger's authType decides
async def http_trigger(request: web.Request) -> web.StreamResponse:
    _check_size(request)
    app = request.app
    name = check_name(request.match_info["name"])
    latest = await app[SERVICE].get_cached(name)  # FunctionNotFound first
    trigger = await app[TRIGGERS].http_trigger(name)
    if trigger is None:
        raise TriggerNotFound(f"function {name} has no HTTP trigger")
    config = trigger.config
    headers = request.headers
    if config.auth_type == "function":
        require(await app[TOKENS].authenticate(headers.get("Authorization")), Role.INVOKE)
    if request.method not in config.methods:
        raise MethodNotAllowed(f"the HTTP trigger of {name} does not accept {request.method}",
                               allow=config.methods)
    invocation_type = INVOCATION_TYPES.get(headers.get("X-Fc-Invocation-Type", "Sync").strip().lower())
    if invocation_type is None:
        raise InvalidArgument("X-Fc-Invocation-Type must be Sync or Async")
    app[METRICS].trigger_invocation(name, "http")
    drop_auth = config.auth_type == "function"
    if invocation_type == "Async":
        record, async_config = await app[RELEASES].resolve_async(name, trigger.qualifier, latest)
    else:
        record, async_config = await app[RELEASES].resolve(name, trigger.qualifier, latest), None
    if record.spec.custom_container is not None and invocation_type == "Sync":
        return await _proxy(request, record, trigger, drop_auth)
    body = await read_event(request, defaults.SYNC_EVENT_BYTES)
    raw_path, query = th.split_raw_path(request.raw_path)
    request_id = new_request_id()
    version = request.version
    info = th.RequestInfo(request.method, raw_path, "/" + request.match_info.get("tail", ""), query, headers.items(),
                          body, _PROTOCOLS.get(version) or f"HTTP/{version.major}.{version.minor}",
                          request.remote or "", request.host, request_id, time.time())
    event = th.http_event(info, drop_auth)
    if invocation_type == "Async":
        if len(event) > defaults.ASYNC_EVENT_BYTES:
            raise PayloadTooLarge(f"the request's event is larger than {defaults.ASYNC_EVENT_BYTES} bytes, the "
                                  "limit of an async invocation")
        rid = await app[ASYNC].accept(record, event, trigger=trigger.label, config=async_config,
                                      qualifier=trigger.qualifier)
        return web.json_response({"requestId": rid}, status=202,
                                 headers={"X-Fc-Request-Id": rid, "X-Fc-Function-Version": record.version_id})
    outcome = await app[POOL].invoke(record, event, request_id, trigger=trigger.label)
    if outcome.error:
        return _failed(request_id, outcome, record)
    try:
        answer = th.http_answer(outcome.body, outcome.content_type or "application/octet-stream")
    except th.InvalidResponse as exc:
        return _failed(request_id, Outcome.failure(
            "InvalidHttpResponse", f"the function's result is not a valid HTTP response: {exc}"), record)
    headers = CIMultiDict(answer.headers)
    headers["X-Fc-Request-Id"] = request_id
    headers["X-Fc-Function-Version"] = record.version_id
    return web.Response(body=answer.body, status=answer.status, headers=headers)


class _LimitedBody:
    """The request's body as it comes, ending with PayloadTooLarge past `limit` bytes. The client that
    streams it reports that as its own error, so `too_large` says what happened."""

    def __init__(self, request: web.Request, limit: int):
        self.request, self.limit, self.too_large = request, limit, False

    async def chunks(self):
        size = 0
        async for chunk in self.request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self.limit:
                self.too_large = True
                raise PayloadTooLarge(f"the request body is larger than {self.limit} bytes")
            yield chunk


async def _proxy(request: web.Request, record: FunctionRecord, trigger: Trigger, drop_auth: bool) -> web.StreamResponse:
    """A web function (custom container): the request goes to the container's port as it came, and its
    answer comes back as it is, streamed both ways; the function's timeout bounds the whole exchange. On a
    front end, through the node the function runs on."""
    if request.content_length is not None and request.content_length > defaults.SYNC_EVENT_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {defaults.SYNC_EVENT_BYTES} bytes")
    request_id = new_request_id()
    raw_path, query = th.split_raw_path(request.raw_path)
    target = raw_path + ("?" + query if query else "")
    spec = record.spec
    headers = th.proxied_request_headers(request.headers.items(), drop_auth)
    headers += [("x-fc-request-id", request_id), ("x-fc-function-name", spec.name),
                ("x-fc-function-memory", str(spec.memory_mb)), ("x-fc-function-timeout", str(spec.timeout_s))]
    pool = request.app[POOL]
    if isinstance(pool, RemotePool):
        body = await read_event(request, defaults.SYNC_EVENT_BYTES, what="the request body") \
            if request.body_exists else None
        return await pool.proxy_web(request, record, request_id, target, headers, body, trigger.label)
    return await proxy_to_container(request, pool, request.app[HTTP_CLIENT], record, request_id, target, headers,
                                    trigger.label)


async def proxy_to_container(request: web.Request, pool, client, record: FunctionRecord, request_id: str,
                             target: str, headers: list[tuple[str, str]], label: str) -> web.StreamResponse:
    """Hold a container of `record` from `pool` and carry the request to it (its body streamed from
    `request`), and its answer back."""
    spec = record.spec
    body = _LimitedBody(request, defaults.SYNC_EVENT_BYTES)
    response: web.StreamResponse | None = None
    try:
        async with pool.lease(record, request_id, trigger=label) as lease:
            inst = lease.instance
            try:
                async with asyncio.timeout(spec.timeout_s):
                    async with client.request(request.method, f"http://{inst.address}:{inst.port}{target}",
                                              headers=headers, allow_redirects=False, auto_decompress=False,
                                              data=body.chunks() if request.body_exists else None) as upstream:
                        if not 200 <= upstream.status <= 599:
                            lease.error = UNHANDLED
                            return _failed(request_id, invalid_reply(
                                ProtocolError(f"the reply's status {upstream.status} is not from 200 to 599"),
                                "the web function"), record)
                        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                        for key, value in th.proxied_response_headers(upstream.headers.items()):
                            response.headers.add(key, value)
                        response.headers["X-Fc-Request-Id"] = request_id
                        response.headers["X-Fc-Function-Version"] = record.version_id
                        return await th.relay(request, response, upstream)
            except PayloadTooLarge:
                raise
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                if body.too_large:  # the client's doing, not the function's: its container stays
                    raise PayloadTooLarge(f"the request body is larger than {body.limit} bytes") from None
                lease.error = UNHANDLED
                if response is not None and response.prepared:  # the middleware breaks the connection
                    raise ConnectionResetError("the web function's answer broke off") from exc
                return _failed(request_id, _proxy_failure(exc, spec.timeout_s), record)
    except InitFailed as exc:
        return _failed(request_id, exc.outcome, record)


def _proxy_failure(exc: Exception, timeout_s: int) -> Outcome:
    """Why a web function's answer failed before it began, in words that never show the container's address
    (aiohttp's messages name the URL it called)."""
    if isinstance(exc, TimeoutError):
        return Outcome.failure("FunctionTimeout", f"the function did not answer within {timeout_s}s")
    if isinstance(exc, aiohttp.ClientResponseError):  # its parser refused the reply
        return invalid_reply(ProtocolError(exc.message), "the web function")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return invalid_reply(ProtocolError("its body broke the rules of HTTP"), "the web function")
    log.info("Web function's container did not answer: %s", exc)
    return Outcome.failure("ConnectionLost", "the web function's container did not answer")


def _failed(request_id: str, outcome: Outcome, record: FunctionRecord) -> web.Response:
    """A failed invocation through an HTTP trigger: 502 with FC's error JSON and X-Fc-Error-Type."""
    return web.Response(body=outcome.body, status=502, content_type="application/json",
                        headers={"X-Fc-Request-Id": request_id, "X-Fc-Error-Type": outcome.error or UNHANDLED,
                                 "X-Fc-Function-Version": record.version_id})


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

