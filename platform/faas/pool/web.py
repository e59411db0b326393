"""A web function's request (custom container) carried to one of its containers and its answer back, streamed
both ways; the function's timeout bounds the whole exchange."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import aiohttp
from aiohttp import ClientSession, web

from .. import defaults
from ..errors import PayloadTooLarge
from ..models import FunctionRecord
from ..triggers import http as th
from ..webio import Answer, LimitedBody, response
from .calls import invalid_reply
from .http import ProtocolError
from .outcome import UNHANDLED, InitFailed, Outcome

log = logging.getLogger(__name__)


class LeasingPool(Protocol):
    """A pool that holds one of a release's containers for a caller (PoolManager.lease)."""

    def lease(self, record: FunctionRecord, request_id: str,
              trigger: str | None = None) -> AbstractAsyncContextManager[Any]: ...


async def proxy_to_container(request: web.Request, pool: LeasingPool, client: ClientSession, record: FunctionRecord,
                             request_id: str, target: str, headers: list[tuple[str, str]],
                             label: str) -> web.StreamResponse:
    """Hold a container of `record` from `pool` and carry the request to it (its body streamed from
    `request`), and its answer back."""
    spec = record.spec
    body = LimitedBody(request, defaults.SYNC_EVENT_BYTES)
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
                            return failed_reply(request_id, invalid_reply(
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
                return failed_reply(request_id, proxy_failure(exc, spec.timeout_s), record)
    except InitFailed as exc:
        return failed_reply(request_id, exc.outcome, record)


def proxy_failure(exc: Exception, timeout_s: int) -> Outcome:
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


def failed_answer(request_id: str, outcome: Outcome, record: FunctionRecord) -> Answer:
    """A failed invocation through an HTTP trigger: 502 with FC's error JSON and X-Fc-Error-Type."""
    return Answer(502, {"X-Fc-Request-Id": request_id, "X-Fc-Error-Type": outcome.error or UNHANDLED,
                        "X-Fc-Function-Version": record.version_id, "Content-Type": "application/json"},
                  outcome.body)


def failed_reply(request_id: str, outcome: Outcome, record: FunctionRecord) -> web.Response:
    return response(failed_answer(request_id, outcome, record))
