"""The API's front door: each client connection first meets this lean HTTP/1.1 reader (llhttp, through
httptools), which answers plain requests itself (`plain`: invocations, and requests through an HTTP trigger) and
hands every other request to aiohttp on the same connection.

Requests are read one at a time, and llhttp is given exactly one: the head up to its first empty line (llhttp is
strict: CRLF only, no obs-fold, one Content-Length and never with Transfer-Encoding), then, for a plain request,
its Content-Length of body. So the bytes after a request are never read before it is taken, and a handover gives
aiohttp the request it cannot answer from its first byte: once every earlier answer is written, aiohttp's protocol
becomes the connection's and is fed those bytes, and answers it (and all after it) as it always did, errors and
limits included. A trigger request is answered before the next is read: it may turn out to be a web function's,
whose exchange aiohttp streams, and is then handed over whole.

For aiohttp's server the front door is one more connection (`web.Server.connection_made`): a graceful shutdown
closes it once its answer is out and waits for that answer, as it does for its own."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import cast

import httptools
from aiohttp import web
from aiohttp.tcp_helpers import tcp_nodelay
from multidict import CIMultiDict

from . import plain
from .keys import METRICS
from .triggers import StreamingNeeded

log = logging.getLogger(__name__)

HEAD_BYTES = 8190
"""The largest head (request line and headers) of a plain request: aiohttp's own line limit."""
PIPELINED = 16
"""Plain requests read ahead of the one being answered (HTTP/1.1 pipelining)."""
READ_AHEAD = 256 * 1024
"""Bytes received and not taken (while requests wait for their answers, or for a handover) past which reading
pauses until the answers are out."""


class FrontDoor(asyncio.Protocol):
    """One client connection: plain requests answered here, in order; the rest handed to aiohttp."""

    def __init__(self, server: web.Server, app: web.Application, keepalive_timeout: float):
        self.server, self.app, self.keepalive_timeout = server, app, keepalive_timeout
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.buf = bytearray()
        """What was received and not yet taken: it begins with the first byte of the request being read."""
        self.queue: collections.deque[plain.Plain] = collections.deque()
        self.head = 0  # the length of the head of the request being read, once llhttp read it; else 0
        self.kind: tuple | None = None  # what on_headers_complete found it to be (plain.plain_kind)
        self.complete = False  # llhttp read the whole request
        self.keep_alive = True  # and it lets the connection go on
        self.url = b""
        self.fields: list[tuple[str, str]] = []
        self.fields_map: CIMultiDict[str] = CIMultiDict()
        self.plain = True  # no header makes it aiohttp's
        self.busy = False  # an answer is being made
        self.holding = False  # no request is read until the answer being made is out (a trigger's; a last one)
        self.handing_over = False  # the request at the start of `buf` is aiohttp's: hand over once idle
        self.closing = False
        self.paused = False  # reading
        self.writing_paused = False
        self.last = self.loop.time()
        self.counts = app[METRICS].front_door
        self._task_handler: asyncio.Task | None = None  # (the answer being made: web.Server waits for it)
        self._idle: asyncio.TimerHandle | None = None

    # -- the connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's are no asyncio.Transport subclass)
        tcp_nodelay(self.transport, True)
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, (list, tuple)) else None
        self.server.connection_made(self, self.transport)  # type: ignore[arg-type]  # (a connection, as aiohttp's are)
        self._idle = self.loop.call_later(self.keepalive_timeout, self._idle_check)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.transport = None
        self.server.connection_lost(self, exc)  # type: ignore[arg-type]  # (an answer being made is waited for)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._read()

    def pause_writing(self) -> None:
        """The client reads slower than it is answered: no next answer is made (nor more read) until it catches
        up, so that what waits for it stays within the transport's limit and one answer."""
        self.writing_paused = True
        self._pause()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if not self.busy:
            self._next()

    # -- reading
    def _read(self) -> None:
        """Take whole plain requests off `buf`, one at a time, while the connection may go on; then answer,
        hand over or pause."""
        while not (self.handing_over or self.holding) and len(self.queue) < PIPELINED:
            if not self.head and not self._read_head():
                break
            if self.kind is None:  # (it is aiohttp's)
                self.handing_over = True
                break
            if not self._take():
                break
        if (self.handing_over or self.holding or len(self.queue) >= PIPELINED) and len(self.buf) > READ_AHEAD:
            self._pause()  # (resumed once the queue is answered; at a handover, by aiohttp)
        if not self.busy:
            self._next()

    def _read_head(self) -> bool:
        """Give llhttp the head at the start of `buf` once it is whole; False while it is not."""
        end = self.buf.find(b"\r\n\r\n", 0, HEAD_BYTES + 4)
        if end < 0:
            if len(self.buf) > HEAD_BYTES or (self.buf and not _may_go_on(self.buf)):
                self.handing_over = True  # (aiohttp's to refuse, or to take: a head this long)
            return False
        self.head, self.kind, self.complete = end + 4, None, False
        self.url, self.fields, self.plain = b"", [], True
        try:
            with memoryview(self.buf) as view:
                self.parser.feed_data(view[:self.head])
        except (httptools.HttpParserUpgrade, httptools.HttpParserError):
            self.kind = None  # aiohttp reads it again and answers its error, or takes the upgrade
        return True

    def _take(self) -> bool:
        """Take the plain request at the start of `buf` once its body is whole; False while it is not."""
        trigger, match = self.kind  # type: ignore[misc]  # (not None: checked by the caller)
        length = int(self.fields_map.get("Content-Length", "0"))
        end = self.head + length
        if len(self.buf) < end:
            return False
        if length:
            try:
                with memoryview(self.buf) as view:
                    self.parser.feed_data(view[self.head:end])
            except httptools.HttpParserError:
                pass  # (cannot be: llhttp counted the same length; `complete` below says so)
        if not self.complete:
            log.error("A plain request's length disagrees with what llhttp read; its connection is aborted")
            self.handing_over = self.closing = True
            if self.transport is not None:
                self.transport.abort()
            return False
        with memoryview(self.buf) as view:
            body = bytes(view[self.head:end])
            raw = bytes(view[:end]) if trigger else None
        del self.buf[:end]
        keep_alive = self.keep_alive
        qualifier = match.group(2) if not trigger else None
        self.queue.append(plain.Plain(trigger, self.parser.get_method().decode(), self.url.decode(),
                                      match.group(1).decode(), qualifier.decode() if qualifier is not None else None,
                                      self.fields_map, body, keep_alive, raw))
        self.head, self.kind = 0, None
        self.holding = trigger or not keep_alive
        return True

    # -- what httptools calls while it reads a head
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.plain:
            return
        if len(self.fields) >= plain.MAX_FIELDS or not (name.isascii() and value.isascii()) \
                or name.lower() in plain.NOT_PLAIN:
            self.plain = False
        else:
            self.fields.append((name.decode(), value.decode()))

    def on_headers_complete(self) -> None:
        if not self.plain or self.parser.get_http_version() != "1.1":
            return
        self.fields_map = CIMultiDict(self.fields)
        self.kind = plain.plain_kind(self.parser.get_method(), self.url, self.fields_map)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # (asked later, llhttp answers for the next request)

    # -- answers
    def _next(self) -> None:
        """Answer the next plain request read; with none, go on reading, hand over or close as the connection
        asks."""
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
                return
            if self.holding:  # (its answer is out: the next request may be read)
                self.holding = False
                self._read()
            if self.paused and not (self.busy or self.handing_over or self.holding):
                self.paused = False
                if self.transport is not None:
                    self.transport.resume_reading()

    async def _answer(self, request: plain.Plain) -> None:
        try:
            answer = await plain.answer(self.app, request, self.remote)
        except StreamingNeeded:  # a web function's: aiohttp takes the request as it was sent
            assert request.raw is not None and not self.queue
            self.buf[:0] = request.raw
            self.handing_over = True
            self._next()
            return
        except Exception as exc:
            answer = plain.error_answer(request, exc)
        self.last = self.loop.time()
        if not request.keep_alive:
            self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.counts.answered += 1
            try:
                self.transport.write(plain.encode(answer, request.keep_alive))
            except ValueError as exc:  # (a header with a line break: never written)
                self.transport.write(plain.encode(plain.error_answer(request, exc), False))
                self.closing = True
        self._next()

    # -- handing over, pausing and idling
    def _hand_over(self) -> None:
        """Make aiohttp's protocol the connection's, from the first byte of the request at the start of `buf`."""
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

    def _pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _idle_check(self) -> None:
        """Close a connection idle for keepalive_timeout since it was made or last answered, as aiohttp does: with
        no request being answered or read, a head not yet whole being idle too."""
        if self.transport is None:
            return
        idle = self.loop.time() - self.last
        if not (self.busy or self.queue or self.head) and idle >= self.keepalive_timeout:
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


def _may_go_on(partial: bytearray) -> bool:
    """Whether the start of a head may still become a request (a bare LF, say, never does: aiohttp refuses it
    now rather than after the keep-alive timeout), asked of a parser of its own."""
    try:
        httptools.HttpRequestParser(object()).feed_data(bytes(partial))
    except httptools.HttpParserError:
        return False
    return True
