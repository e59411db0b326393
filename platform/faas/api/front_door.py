"""The API's front door: each client connection first meets this lean HTTP/1.1 protocol (llhttp, through
httptools), which answers plain invocations itself and hands every other request to aiohttp on the same
connection.

A plain invocation is `POST /v1/functions/{name}/invocations`, with at most a `?qualifier=` of plain characters,
in HTTP/1.1, with no Transfer-Encoding, Expect or Upgrade, ASCII headers (at most MAX_FIELDS of them, in at most
HEAD_BYTES), and a Content-Length within the invocation type's event limit. It goes through the same checks and
the same invocation as aiohttp's handler (`invocations`): the same authentication, errors, headers and body; it
only skips aiohttp's request objects, its routing and its middleware, which cost about half of a warm call.

Anything else, malformed requests included, is handed over whole: the front door keeps the bytes of the request
it is reading from its first byte on, and once every earlier answer is written it makes aiohttp's protocol the
connection's and feeds it those bytes. aiohttp then answers it (and everything after it on that connection) as it
always did, errors and limits included. llhttp is strict (CRLF only, no obs-fold, one Content-Length, never both
it and Transfer-Encoding), so a plain request's length is its head up to the first empty line plus its
Content-Length, and the bytes handed over begin exactly where the next request does.

For aiohttp's server the front door is one more connection (`web.Server.connection_made`): a graceful shutdown
closes it once its answer is out and waits for that answer, as it does for its own."""

from __future__ import annotations

import asyncio
import collections
import email.utils
import json
import logging
import re
import time
from http import HTTPStatus
from typing import NamedTuple, cast

import httptools
from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.tcp_helpers import tcp_nodelay
from multidict import CIMultiDict

from ..auth import require
from ..defaults import LATEST
from ..models import check_name
from ..qualifiers import check_qualifier
from .invocations import Answer, event_limit, invocation, invocation_options, invocation_type, invoke_function
from .keys import METRICS, TOKENS
from .middlewares import RequestLine, describe_error, error_document

log = logging.getLogger(__name__)

HEAD_BYTES = 8190
"""The largest head (request line and headers) a plain invocation has: aiohttp's own line limit."""
MAX_FIELDS = 64
"""The most header fields a plain invocation has."""
PIPELINED = 16
"""Plain invocations read ahead of the one being answered (HTTP/1.1 pipelining) before reading pauses."""

_PLAIN_URL = re.compile(rb"/v1/functions/([^/?#%]{1,256})/invocations(?:\?qualifier=([^&=;+#%]{0,256}))?")
_NOT_PLAIN = frozenset((b"transfer-encoding", b"expect", b"upgrade"))
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_ROLE = invoke_function.faas_role  # (set by @role: the same role as aiohttp's route)


class _Plain(NamedTuple):
    """A plain invocation, read whole."""

    name: str
    qualifier: str | None
    headers: CIMultiDict[str]
    body: bytes
    keep_alive: bool


class FrontDoor(asyncio.Protocol):
    """One client connection: plain invocations answered here, in order; the rest handed to aiohttp."""

    def __init__(self, server: web.Server, app: web.Application, keepalive_timeout: float):
        self.server, self.app, self.keepalive_timeout = server, app, keepalive_timeout
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        """The bytes from the first byte of the request being read on: what aiohttp gets at a handover."""
        self.queue: collections.deque[_Plain] = collections.deque()
        self.busy = False  # an answer is being made
        self.handing_over = False  # the request being read is aiohttp's: hand over once the queue is answered
        self.closing = False
        self.paused = False  # reading
        self.writing_paused = False
        self.last = self.loop.time()
        self.counts = app[METRICS].front_door
        self._task_handler: asyncio.Task | None = None  # (the answer being made: web.Server waits for it)
        self._idle: asyncio.TimerHandle | None = None
        self._message_begun()

    # -- the connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's are no asyncio.Transport subclass)
        tcp_nodelay(self.transport, True)
        self.server.connection_made(self, self.transport)  # type: ignore[arg-type]  # (a connection, as aiohttp's are)
        self._idle = self.loop.call_later(self.keepalive_timeout, self._idle_check)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.transport = None
        self.server.connection_lost(self, exc)  # type: ignore[arg-type]  # (an answer being made is waited for)

    def pause_writing(self) -> None:
        """The client reads slower than it is answered: no next answer is made (nor more read) until it catches
        up, so that what waits for it stays within the transport's limit and one answer."""
        self.writing_paused = True
        self._pause()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if not self.busy:
            self._next()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.handing_over:  # (the parser stopped at that request: aiohttp reads on from its first byte)
            self._pause()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.handing_over = True  # (an Upgrade request is never plain: aiohttp's)
        except httptools.HttpParserError:
            self.handing_over = True  # aiohttp reads it again and answers its error
        if not self.handing_over and not self.headers_done and len(self.buf) > HEAD_BYTES:
            self.handing_over = True  # (a head this long is aiohttp's to refuse or take)
        if self.handing_over and not self.busy:
            self._hand_over()
        elif self.busy and len(self.queue) >= PIPELINED:
            self._pause()

    # -- what httptools calls while it reads
    def _message_begun(self) -> None:
        self.url = b""
        self.fields: list[tuple[str, str]] = []
        self.plain = True
        self.headers_done = False
        self.request: tuple[str, str | None, CIMultiDict[str]] | None = None

    def on_message_begin(self) -> None:
        self._message_begun()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.plain:
            return
        if len(self.fields) >= MAX_FIELDS or not (name.isascii() and value.isascii()) or name.lower() in _NOT_PLAIN:
            self.plain = False
        else:
            self.fields.append((name.decode(), value.decode()))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        match = _PLAIN_URL.fullmatch(self.url)
        if not (self.plain and match is not None and self.buf.startswith(b"POST ")
                and self.parser.get_http_version() == "1.1"
                and (len(self.buf) <= HEAD_BYTES or 0 <= self.buf.find(b"\r\n\r\n", 0, HEAD_BYTES))):
            self.handing_over = True
            return
        headers = CIMultiDict(self.fields)
        length = headers.get("Content-Length", "0")
        limit = event_limit(invocation_type(headers) == "Async")  # (an unknown type fails whatever its size)
        if not length.isdigit() or int(length) > limit:
            self.handing_over = True  # (aiohttp answers 413, and reads no body)
            return
        qualifier = match.group(2)
        self.request = (match.group(1).decode(), qualifier.decode() if qualifier is not None else None, headers)

    def on_message_complete(self) -> None:
        if self.handing_over or self.request is None:
            return
        name, qualifier, headers = self.request
        head = self.buf.find(b"\r\n\r\n") + 4
        end = head + int(headers.get("Content-Length", "0"))
        if head < 4 or end > len(self.buf):  # (llhttp read it whole: this cannot be, but never answer a guess)
            log.error("A plain invocation's length disagrees with what was read; its connection is aborted")
            self.handing_over = True
            if self.transport is not None:
                self.transport.abort()
            return
        with memoryview(self.buf) as view:
            body = bytes(view[head:end])
        del self.buf[:end]
        self.headers_done = False  # (until the next request's: the connection is idle once this one is answered)
        self.queue.append(_Plain(name, qualifier, headers, body, self.parser.should_keep_alive()))
        if not self.busy:
            self._next()

    # -- answers
    def _next(self) -> None:
        """Answer the next plain invocation read; with none, hand over or close as the connection asks."""
        if self.closing or self.transport is None:
            self.busy = False
            if self.transport is not None:
                self.transport.close()
        elif self.writing_paused:
            self.busy = False  # (resume_writing goes on)
        elif self.queue:
            self.busy = True
            self._task_handler = self.loop.create_task(self._answer(self.queue.popleft()))
        else:
            self.busy = False
            self._task_handler = None
            if self.handing_over:
                self._hand_over()
            elif self.paused:
                self.paused = False
                self.transport.resume_reading()

    async def _answer(self, request: _Plain) -> None:
        try:
            answer = await self._invoke(request)
        except Exception as exc:
            answer = self._error(request, exc)
        self.last = self.loop.time()
        if not request.keep_alive:
            self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.counts.answered += 1
            try:
                self.transport.write(encode(answer, request.keep_alive))
            except ValueError as exc:  # (a header with a line break: never written)
                self.transport.write(encode(self._error(request, exc), False))
                self.closing = True
        self._next()

    async def _invoke(self, request: _Plain) -> Answer:
        """What aiohttp's route does, in its order: authentication, then the handler's checks, then the call."""
        app, headers = self.app, request.headers
        token = await app[TOKENS].authenticate(headers.get("Authorization"))
        require(token, _ROLE)
        name = check_name(request.name)
        options = await invocation_options(app, headers)
        qualifier = check_qualifier(request.qualifier) if request.qualifier is not None else LATEST
        return await invocation(app, name, qualifier, request.body, options)

    def _error(self, request: _Plain, exc: Exception) -> Answer:
        path = f"/v1/functions/{request.name}/invocations"
        described = describe_error(RequestLine("POST", path), exc)
        body = json.dumps(error_document(described.code, described.message, **described.extra)).encode()
        return Answer(described.status, {**described.headers, "Content-Type": "application/json; charset=utf-8"},
                      body)

    # -- handing over, pausing and idling
    def _hand_over(self) -> asyncio.Protocol:
        """Make aiohttp's protocol the connection's, from the first byte of the request being read."""
        assert self.transport is not None and not self.busy
        transport, self.transport = self.transport, None
        if self._idle is not None:
            self._idle.cancel()
        self.server.connection_lost(self, None)  # type: ignore[arg-type]  # (no longer a connection of ours)
        self.counts.handed_over += 1
        handler = self.server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self.paused:
            transport.resume_reading()
        if self.buf:
            handler.data_received(bytes(self.buf))
            self.buf.clear()
        return handler

    def _pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _idle_check(self) -> None:
        """Close a connection idle for keepalive_timeout since it was made or last answered, as aiohttp does: with
        no request being answered or read, a head not finished being idle too."""
        if self.transport is None:
            return
        idle = self.loop.time() - self.last
        if not self.busy and not self.headers_done and idle >= self.keepalive_timeout:
            self.transport.close()
            return
        self._idle = self.loop.call_later(max(self.keepalive_timeout - idle, 0.1), self._idle_check)

    # -- what aiohttp's server calls at a graceful shutdown
    def close(self) -> None:
        """Close once the answer being made is out."""
        self.closing = True
        if not self.busy and self.transport is not None:
            self.transport.close()

    async def shutdown(self, timeout: float | None) -> None:
        """Wait up to `timeout` for the answer being made, then close."""
        self.closing = True
        task = self._task_handler
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except asyncio.TimeoutError:
                task.cancel()
        if self.transport is not None:
            self.transport.close()




_date: tuple[int, bytes] = (0, b"")


def _http_date() -> bytes:
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True).encode())
    return _date[1]


_SERVER = SERVER_SOFTWARE.encode()


def encode(answer: Answer, keep_alive: bool) -> bytes:
    """An answer as HTTP/1.1 bytes; ValueError when a header would break its line."""
    status, headers, body = answer
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    for key, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in key or "\r" in key:
            raise ValueError(f"the header {key!r} has a line break")
        lines.append(f"{key}: {value}\r\n".encode())
    lines.append(b"Content-Length: %d\r\nDate: %s\r\nServer: %s\r\n" % (len(body), _http_date(), _SERVER))
    if not keep_alive:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)
