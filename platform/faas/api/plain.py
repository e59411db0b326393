"""What the API's front door (front_door) answers itself, and how: plain invocations and plain requests through an
HTTP trigger, recognised from their request line and headers, answered by the same code as aiohttp's routes
(invocations, triggers.through_trigger), and written as HTTP/1.1 bytes.

A request is plain when it is HTTP/1.1 with a Host, has no Transfer-Encoding, Expect or Upgrade, only ASCII in its
headers (at most MAX_FIELDS), a Content-Length within its event limit, and is one of:
- `POST /v1/functions/{name}/invocations`, with at most `?qualifier=` of plain characters;
- GET, POST, PUT, DELETE, PATCH or OPTIONS on `/function/{name}` or below, its path free of `%`, `//` and `/.`
  (so that it means the same sent and decoded), any query.
Anything else is aiohttp's, whose routes answer it exactly as before."""

from __future__ import annotations

import email.utils
import re
import time
from http import HTTPStatus
from typing import NamedTuple

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11
from multidict import CIMultiDict

from .. import defaults
from ..auth import require
from ..models import check_name
from ..qualifiers import check_qualifier
from ..triggers import http as th
from ..webio import Answer
from . import middlewares, triggers
from .invocations import event_limit, invocation, invocation_options, invocation_type, invoke_function
from .keys import TOKENS
from .middlewares import RequestLine

MAX_FIELDS = 64
"""The most header fields a plain request has."""

INVOKE_URL = re.compile(rb"/v1/functions/([^/?#%]{1,256})/invocations(?:\?qualifier=([^&=;+#%]{0,256}))?")
TRIGGER_URL = re.compile(rb"/function/([^/?#%]{1,256})((?:/[^?#%]*)?)(?:\?([^#]*))?")
TRIGGER_METHODS = frozenset((b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"))
NOT_PLAIN = frozenset((b"transfer-encoding", b"expect", b"upgrade"))
_ROLE = invoke_function.faas_role  # (set by @role: the same role as aiohttp's route)


class Plain(NamedTuple):
    """A plain request, read whole. `raw`: a trigger request's bytes as sent, for aiohttp should it be a web
    function's (triggers.StreamingNeeded)."""

    trigger: bool
    method: str
    url: str
    name: str
    qualifier: str | None
    headers: CIMultiDict[str]
    body: bytes
    keep_alive: bool
    raw: bytes | None


def plain_kind(method: bytes, url: bytes, headers: CIMultiDict[str]) -> tuple[bool, re.Match] | None:
    """(whether it goes through a trigger, its URL's match) when a request with this line and these headers (its
    other conditions checked by the reader) is plain; else None."""
    length = headers.get("Content-Length", "0")
    if not length.isdigit() or "Host" not in headers or not url.isascii():  # (llhttp refuses such URLs: in case)
        return None
    if method == b"POST" and (match := INVOKE_URL.fullmatch(url)) is not None:
        limit = event_limit(invocation_type(headers) == "Async")  # (an unknown type fails whatever its size)
        return (False, match) if int(length) <= limit else None  # (aiohttp answers 413, and reads no body)
    if method in TRIGGER_METHODS and (match := TRIGGER_URL.fullmatch(url)) is not None \
            and b"//" not in match.group(2) and b"/." not in match.group(2) \
            and int(length) <= defaults.SYNC_EVENT_BYTES and len(url) <= defaults.HTTP_TRIGGER_URL_BYTES:
        return True, match
    return None


class PlainRequest:
    """A plain trigger request as triggers.through_trigger reads it (webio.SentRequest)."""

    version = HttpVersion11

    def __init__(self, app: web.Application, request: Plain, remote: str | None):
        self.app, self.method, self.raw_path, self.remote = app, request.method, request.url, remote
        self.raw_headers, self.headers, self.body = request.headers.items(), request.headers, request.body
        self.host = request.headers["Host"]
        self.content_length = len(request.body)

    async def read(self) -> bytes:
        return self.body


async def answer(app: web.Application, request: Plain, remote: str | None) -> Answer:
    """The answer to a plain request, as aiohttp's route gives it; triggers.StreamingNeeded for a web function's."""
    if request.trigger:
        raw_path, query = th.split_raw_path(request.url)
        result = await triggers.through_trigger(PlainRequest(app, request, remote), app, request.name, raw_path,
                                                query, raw_path, triggers.bearer)
        assert isinstance(result, Answer), "only aiohttp's requests are streamed"
        return result
    # what aiohttp's route does, in its order: authentication, then the handler's checks, then the call
    headers = request.headers
    require(await app[TOKENS].authenticate(headers.get("Authorization")), _ROLE)
    name = check_name(request.name)
    options = await invocation_options(app, headers)
    qualifier = check_qualifier(request.qualifier) if request.qualifier is not None else defaults.LATEST
    return await invocation(app, name, qualifier, request.body, options)


def error_answer(request: Plain, exc: Exception) -> Answer:
    """What aiohttp's error handling answers to what answering `request` raised."""
    return middlewares.error_answer(RequestLine(request.method, request.url.partition("?")[0]), exc)


_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_EMPTY_BODY = frozenset((204, 304, *range(100, 200)))
_SERVER = SERVER_SOFTWARE.encode()
_date: tuple[int, bytes] = (0, b"")


def _http_date() -> bytes:
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True).encode())
    return _date[1]


def encode(answer: Answer, keep_alive: bool) -> bytes:
    """An answer as HTTP/1.1 bytes, framed as aiohttp frames it (its Date and Server unless the answer has them,
    application/octet-stream for a body with no type, no body for 1xx, 204 and 304; a CIMultiDict's names are
    found in any case, the invocations' dicts spell theirs so); ValueError when a header would break its line."""
    status, headers, body = answer
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))]
    for key, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in key or "\r" in key:
            raise ValueError(f"the header {key!r} has a line break")
        lines.append(f"{key}: {value}\r\n".encode())
    if status in _EMPTY_BODY:
        body = b""
    else:
        lines.append(b"Content-Length: %d\r\n" % len(body))
        if body and "Content-Type" not in headers:
            lines.append(b"Content-Type: application/octet-stream\r\n")
    if "Date" not in headers:
        lines.append(b"Date: %s\r\n" % _http_date())
    if "Server" not in headers:
        lines.append(b"Server: %s\r\n" % _SERVER)
    if not keep_alive:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)
