"""Middlewares: every error leaves as the JSON error shape, never an HTML page or a traceback."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import NamedTuple

from aiohttp import web
from redis.exceptions import BusyLoadingError, OutOfMemoryError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import defaults, errors
from ..auth import Role, require
from ..models import tail
from ..triggers.http import ANSWER_BEGUN
from ..webio import JSON_TYPE, Answer, response
from .keys import TOKENS

log = logging.getLogger(__name__)

STATUS: dict[type[errors.FaasError], int] = {
    errors.InvalidArgument: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.TokenNotFound: 404,
    errors.AccessKeyNotFound: 404,
    errors.FunctionNotFound: 404,
    errors.NodeNotFound: 404,
    errors.InvocationNotFound: 404,
    errors.InvocationEnded: 409,
    errors.InvocationAlreadyExists: 409,
    errors.FunctionAlreadyExists: 409,
    errors.TriggerNotFound: 404,
    errors.TriggerAlreadyExists: 409,
    errors.TriggerLimitExceeded: 409,
    errors.MethodNotAllowed: 405,
    errors.VersionNotFound: 404,
    errors.LayerNotFound: 404,
    errors.LayerVersionLimitExceeded: 409,
    errors.AliasNotFound: 404,
    errors.AliasAlreadyExists: 409,
    errors.VersionLimitExceeded: 409,
    errors.AliasLimitExceeded: 409,
    errors.NothingToPublish: 409,
    errors.ResourceInUse: 409,
    errors.RequestIdInUse: 409,
    errors.PayloadTooLarge: 413,
    errors.BuildFailed: 422,
    errors.TooManyRequests: 429,
    errors.ServiceUnavailable: 503,
}

_HTTP_CODES = {400: "InvalidArgument", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed",
               413: "PayloadTooLarge", 429: "TooManyRequests", 503: "ServiceUnavailable"}


def code_of(status: int) -> str:
    """The error code of an HTTP status the platform did not choose itself (aiohttp's, or its parser's)."""
    return _HTTP_CODES.get(status, "InvalidArgument" if status < 500 else "InternalError")


def error_document(code: str, message: str, **extra) -> dict:
    """The platform's JSON error shape."""
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra) -> web.Response:
    return web.json_response(error_document(code, message, **extra), status=status)


class RequestLine(NamedTuple):
    """A request as an error's log line names it, where no aiohttp request was made (the front door's)."""

    method: str
    path: str


def status_of(exc: errors.FaasError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
        status = getattr(cls, "status", None)
        if status is not None:
            return status
    return 500


def role(needed: Role | None):
    """Mark a handler with the role it needs (None: open to anyone). Unmarked handlers need admin."""

    def mark(handler):
        handler.faas_role = needed
        return handler

    return mark


async def authorize(request: web.Request) -> None:
    """The caller's token has the role the route's handler needs (see `role`); Unauthorized or Forbidden."""
    if request.match_info.http_exception is not None:
        return  # no such route: the error handling answers 404 or 405
    needed = getattr(request.match_info.handler, "faas_role", Role.ADMIN)
    if needed is not None:
        require(await request.app[TOKENS].authenticate(request.headers.get("Authorization")), needed)


@web.middleware
async def api_middleware(request: web.Request, handler) -> web.StreamResponse:
    """The API's: `authorize`, then the handler, and what either raises answered as `error_middleware` does
    (one middleware rather than two: each costs a coroutine and a call per request)."""
    try:
        await authorize(request)
        return await handler(request)
    except Exception as exc:
        return _failed(request, exc)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        return _failed(request, exc)


def _failed(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The answer to what a handler raised: the platform's JSON error, or, once the answer has begun, an
    aborted connection."""
    begun = request.get(ANSWER_BEGUN)
    if begun is None:
        return _error_answer(request, exc)
    # Its status line is out: the client learns of the failure from a broken connection (a body cut short,
    # never a chunked body's end), not from a second status line written into the first answer's body.
    log.warning("%s %s: the answer broke off after it had begun (%s); its connection is aborted",
                request.method, request.path, type(exc).__name__)
    if request.transport is not None:
        request.transport.abort()
    return begun  # aiohttp finishes it on the aborted connection, which writes nothing more


@dataclass
class ErrorAnswer:
    """What an error is answered with, whatever the surface's shape: its status, code, message, the fields
    the platform's own shape adds, and headers."""

    status: int
    code: str
    message: str
    extra: dict = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def describe_error(request: web.BaseRequest | RequestLine, exc: Exception) -> ErrorAnswer:
    """The answer to what a handler raised (a redirect is raised on): every surface answers the same error
    with the same status and code, each in its own shape."""
    if isinstance(exc, errors.FaasError):
        answer = ErrorAnswer(status_of(exc), exc.code, exc.message)
        if isinstance(exc, errors.BuildFailed) and exc.details.get("log"):
            answer.extra["buildLog"] = tail(exc.details["log"], defaults.BUILD_LOG_TAIL_BYTES)
        if isinstance(exc, errors.Unauthorized):
            answer.headers["WWW-Authenticate"] = 'Bearer realm="faas"'
        elif isinstance(exc, errors.MethodNotAllowed):
            answer.headers["Allow"] = ", ".join(exc.details.get("allow", ()))
        if "retry_after" in exc.details:
            answer.headers["Retry-After"] = str(exc.details["retry_after"])
        if exc.code == "ImageMissing":  # (the node API's: which image the front end is to send)
            answer.extra["image"] = exc.details.get("image")
        return answer
    if isinstance(exc, OutOfMemoryError):  # maxmemory with noeviction: the write was refused whole
        log.warning("Redis is full (maxmemory) in %s %s: %s", request.method, request.path, exc)
        return ErrorAnswer(503, "ServiceUnavailable", "the platform's Redis is full: nothing was stored; try again "
                           "later", headers={"Retry-After": str(defaults.QUEUE_FULL_RETRY_AFTER_S)})
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, BusyLoadingError)):
        log.warning("Redis unavailable in %s %s: %s", request.method, request.path, exc)
        return ErrorAnswer(503, "ServiceUnavailable", "the platform's Redis is unavailable; try again shortly")
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        message = exc.reason if exc.status != 413 else "the request body is too large"
        answer = ErrorAnswer(exc.status, code_of(exc.status), message)
        if "Allow" in exc.headers:  # 405 says which methods the route has
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
    log.error("Unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return ErrorAnswer(500, "InternalError", "internal error; the platform log has the details")


def error_answer(request: web.BaseRequest | RequestLine, exc: Exception) -> Answer:
    """The platform's own JSON error answer for what a handler raised (aiohttp's routes, the front door)."""
    described = describe_error(request, exc)
    body = json.dumps(error_document(described.code, described.message, **described.extra)).encode()
    return Answer(described.status, {**described.headers, "Content-Type": JSON_TYPE}, body)


def _error_answer(request: web.Request, exc: Exception) -> web.StreamResponse:
    return response(error_answer(request, exc))
