"""A small HTTP/1.1 client for the container protocol: keep-alive connections per container, each request
in one write, replies parsed strictly and within bounds (llhttp through httptools), with Content-Length,
chunked encoding or read-to-close. A reply is untrusted input: whatever it does, it costs the platform at
most its limits in memory and time linear in its size, and a reply that breaks a rule fails its request only.

It replaces a general-purpose client on the hot path: a warm invocation is two HTTP hops, and this one
costs a fraction of aiohttp's client per request (see scripts/bench).

Where it can, it reaches the container through the Unix socket the runtime makes in the container's /tmp
(`UnixEndpoint`), which skips the bridge, iptables and conntrack that every TCP packet to a container
crosses: a round trip there costs about a quarter of one over the bridge on these machines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
import time
from dataclasses import dataclass

import httptools

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
"""Largest status line plus headers accepted from a container."""

MAX_HEADER_BYTES = 8 * 1024
"""Largest single header (name and value) or status line accepted from a container."""

MAX_HEADERS = 100
"""Most header lines (and, apart, trailer lines) accepted in one reply."""

MAX_FRAMING_BYTES = 64 * 1024
"""Bytes of a reply that are neither its head nor its body (chunk-size lines, chunk extensions, trailers)
accepted beyond a quarter of the body: a chunk-size line that never ends, or a body cut into one-byte chunks,
is refused once it passes this, in time linear in what was read."""


class ResponseTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(f"the function's response is {size} bytes")
        self.size = size


class ProtocolError(ConnectionError):
    """The container answered something that is not HTTP/1.1 this client accepts: the message says what."""


class NotDelivered(ConnectionError):
    """No connection to the container could be made: whatever was to be sent never reached it."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Header names in lower case; a repeated header keeps its last value."""
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection. Replies are parsed by llhttp (through httptools), which refuses what is not
    strict HTTP/1.x (a status of other than three digits, a Content-Length that is not plain digits, a
    Content-Length beside Transfer-Encoding, bare LFs, bad header characters, a chunk size past 64 bits); this
    class bounds what llhttp leaves unbounded, each bound checked on what has been read before more is kept:
    the head, each header, the number of headers, the status, the body, and the framing of a chunked body."""

    transport: asyncio.Transport
    """Set by connection_made, which asyncio calls before the connection is handed to the pool."""
    _loop: asyncio.AbstractEventLoop
    """The loop the connection was made in (set by connection_made)."""

    def __init__(self):
        self.closed = False
        self._future: asyncio.Future | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self._headers: dict[str, str] = {}
        self._status = 0
        self._head_done = False
        self._to_close = False  # the body ends when the connection does
        self._body = bytearray()
        self._max = 0
        self._read = 0  # bytes of this reply read so far
        self._lines = 0  # header lines, then trailer lines
        self._reason = 0
        self._keep_alive = True
        self._extra = False  # bytes came after the reply: the connection is not to be reused
        self._error: Exception | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport
        self._loop = asyncio.get_running_loop()  # once: each get_running_loop() costs a system call (getpid)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc) -> None:
        self.closed = True
        future = self._future
        if future is not None and not future.done():
            if self._to_close:
                self._finish()  # a read-to-close body ends here
            else:
                future.set_exception(ConnectionResetError("the container closed the connection"))

    def data_received(self, data: bytes) -> None:
        future = self._future
        if future is None or future.done():
            self._untrusted()  # bytes nobody asked for: this connection cannot be trusted again
            return
        try:
            if not self._head_done and self._read + len(data) > MAX_HEAD_BYTES:
                room = MAX_HEAD_BYTES - self._read  # the head may end within it: fed alone, it must
                if room > 0:
                    self._feed(data[:room])
                if not self._head_done:
                    raise ProtocolError(f"the reply's head is larger than {MAX_HEAD_BYTES} bytes")
                data = data[room:]
            self._feed(data)
        except httptools.HttpParserCallbackError:
            self._fail(self._error or ProtocolError("the reply could not be parsed"))
        except httptools.HttpParserError as exc:
            if not future.done():
                self._fail(ProtocolError(f"not valid HTTP/1.1: {exc}"))
            else:  # the reply was whole; what came after it is not
                self._untrusted()
        except (ProtocolError, ResponseTooLarge) as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self._untrusted()
        future = self._future
        if future is not None and not future.done():
            future.set_exception(exc)

    def _untrusted(self) -> None:
        self.closed = True
        self.transport.close()

    def _feed(self, data: bytes) -> None:
        self._read += len(data)
        self._parser.feed_data(data)
        self._check_framing()

    def _check_framing(self) -> None:
        if self._read - len(self._body) > MAX_HEAD_BYTES + MAX_FRAMING_BYTES + len(self._body) // 4:
            raise ProtocolError("the reply's chunk framing or trailers are too large")

    # -- httptools callbacks (an exception raised in one ends the parse: it is kept for data_received)
    def _stop(self, exc: Exception):
        self._error = exc
        raise exc

    def on_message_begin(self) -> None:
        if self._future is None or self._future.done():
            self._extra = True
            self._stop(ProtocolError("bytes after the reply"))

    def on_status(self, reason: bytes) -> None:
        self._reason += len(reason)
        if self._reason > MAX_HEADER_BYTES:
            self._stop(ProtocolError(f"the reply's status line is longer than {MAX_HEADER_BYTES} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._lines += 1
        if self._lines > MAX_HEADERS:
            self._stop(ProtocolError(f"the reply has more than {MAX_HEADERS} header or trailer lines"))
        if len(name) + len(value) > MAX_HEADER_BYTES:
            self._stop(ProtocolError(f"a header of the reply is longer than {MAX_HEADER_BYTES} bytes"))
        if not self._head_done:  # trailers are bounded and dropped
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._head_done = True
        self._lines = 0
        status = self._status = parser.get_status_code()
        if parser.get_http_version() not in ("1.1", "1.0"):
            self._stop(ProtocolError(f"the reply is HTTP/{parser.get_http_version()}, not HTTP/1.1"))
        if not 200 <= status <= 599:
            self._stop(ProtocolError(f"the reply's status {status} is not from 200 to 599"))
        self._keep_alive = parser.should_keep_alive()
        headers = self._headers
        length = headers.get("content-length")
        if length is not None:
            if int(length) > self._max:  # plain digits: llhttp refuses anything else
                self._stop(ResponseTooLarge(int(length)))
        elif status not in (204, 304) and "chunked" not in headers.get("transfer-encoding", "").lower():
            self._to_close = True
            self._keep_alive = False

    def on_body(self, chunk: bytes) -> None:
        self._body += chunk
        if len(self._body) > self._max:
            self._stop(ResponseTooLarge(len(self._body)))

    def on_message_complete(self) -> None:
        try:  # (a reply that ends within one read is checked here, before it is taken)
            self._check_framing()
        except ProtocolError as exc:
            self._stop(exc)
        self._to_close = False
        self._finish()

    def _finish(self) -> None:
        future = self._future
        assert future is not None, "a reply ends only while a request waits for it (on_message_begin checks)"
        if not future.done():
            future.set_result(Response(self._status, self._headers, bytes(self._body)))

    # -- use
    def _expire(self) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_exception(TimeoutError("no response in time"))

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes,
                      max_bytes: int, timeout: float | None = None, head: bytes = b"") -> tuple[Response, bool]:
        """Send one request; (response, whether the connection can serve another). TimeoutError when the
        response is not complete within `timeout` seconds (a timer of the loop's: cheaper than a scope). `head`:
        more header lines, encoded (each ending in CRLF), sent after `headers`."""
        self._reset()
        self._max = max_bytes
        loop = self._loop
        self._future = loop.create_future()
        timer = loop.call_later(timeout, self._expire) if timeout is not None else None
        lines = [f"{method} {path} HTTP/1.1", "Host: function", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.transport.write(("\r\n".join(lines) + "\r\n").encode("latin-1") + head + b"\r\n" + body)
        try:
            response = await self._future
        except BaseException:
            self.closed = True  # cancelled, timed out or failed mid-response: never reuse
            self.transport.close()
            raise
        finally:
            self._future = None
            if timer is not None:
                timer.cancel()
        reusable = self._keep_alive and not self.closed and not self._extra
        return response, reusable


class UnixEndpoint:
    """A Unix socket inside a running container, reached through /proc/<pid>/root.

    The path belongs to untrusted code, so it is opened without following a final symbolic link, must be a
    socket, and is connected to through that open file (/proc/self/fd/N): a link the function put there
    cannot send the platform to a socket of the host. That the pid still is the container's first process
    is checked after the socket is reached; a pid reused by anything else fails the check.
    """

    def __init__(self, pid: int, container_id: str, path: str):
        """`path` inside the container of `pid`; with pid 0, `path` on the host: a directory of the container's
        own (FAAS_SOCKET_DIR), which the container's removal removes."""
        self.pid, self.container_id = pid, container_id
        self.path = f"/proc/{pid}/root{path}" if pid else path

    async def connect(self) -> socket.socket:
        """A connected, non-blocking socket; OSError when the endpoint cannot be used."""
        fd = os.open(self.path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                raise OSError(f"{self.path} is not a socket")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, f"/proc/self/fd/{fd}")
                if not self.alive():
                    raise OSError(f"pid {self.pid} is no longer the container's")
            except BaseException:
                sock.close()
                raise
            return sock
        finally:
            os.close(fd)

    def alive(self) -> bool:
        """True while the pid is still the container's first process (a socket directory is the container's
        while it exists)."""
        if not self.pid:
            return True
        try:
            with open(f"/proc/{self.pid}/cgroup", encoding="ascii", errors="replace") as cgroups:
                return self.container_id in cgroups.read()
        except OSError:
            return False


class ConnectionPool:
    """Idle keep-alive connections to one container: over its Unix socket when it can, else over TCP."""

    def __init__(self, host: str, port: int, unix: UnixEndpoint | None = None):
        self.host, self.port = host, port
        self.unix = unix
        self._idle: list[_Connection] = []

    @property
    def transport(self) -> str:
        return "unix" if self.unix is not None else "tcp"

    async def _connect(self) -> _Connection:
        """A new connection; NotDelivered when none can be made (the container is gone, or refuses)."""
        loop = asyncio.get_running_loop()
        if self.unix is not None:
            try:
                sock = await self.unix.connect()
            except OSError as exc:
                if not self.unix.alive():  # the container's process is gone: TCP would only wait for it
                    raise NotDelivered(f"container {self.unix.container_id[:12]} is not running") from exc
                # not our runtime, or no view of the host's processes: TCP serves
                log.info("Container %s: Unix socket not usable (%s); using TCP", self.unix.container_id[:12], exc)
                self.unix = None
            else:
                _, conn = await loop.create_unix_connection(_Connection, sock=sock)
                return conn
        try:
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
        except OSError as exc:
            raise NotDelivered(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return conn

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
                      max_bytes: int = 1 << 20, timeout: float | None = None,
                      connect_timeout: float | None = None, head: bytes = b"") -> Response:
        """One request on an idle connection or a new one; TimeoutError after `timeout` seconds in all, and
        NotDelivered when a new connection takes longer than `connect_timeout`. `head`: as _Connection.request."""
        conn = None
        while self._idle:
            candidate = self._idle.pop()
            if not candidate.closed:
                conn = candidate
                break
        if conn is None and connect_timeout is not None:
            started = time.monotonic()
            try:
                conn = await asyncio.wait_for(self._connect(), connect_timeout)
            except TimeoutError:
                raise NotDelivered(f"no connection to {self.host}:{self.port} within {connect_timeout:g}s") from None
            if timeout is not None:
                timeout = max(0.0, timeout - (time.monotonic() - started))
        if conn is None:
            if timeout is None:
                conn = await self._connect()
            else:
                started = time.monotonic()
                conn = await asyncio.wait_for(self._connect(), timeout)
                timeout = max(0.0, timeout - (time.monotonic() - started))
        response, reusable = await conn.request(method, path, headers, body, max_bytes, timeout, head)
        if reusable:
            self._idle.append(conn)
        else:
            conn.transport.close()
        return response

    def close(self) -> None:
        for conn in self._idle:
            conn.closed = True
            conn.transport.close()
        self._idle.clear()
