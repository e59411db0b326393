"""A small HTTP/1.1 client for the container protocol: keep-alive connections per container, each request
in one write, responses parsed with Content-Length, chunked encoding or read-to-close.

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

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
"""Largest status line plus headers accepted from a container."""


class ResponseTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(f"the function's response is {size} bytes")
        self.size = size


class ProtocolError(ConnectionError):
    """The container answered something that is not HTTP/1.1 this client understands."""


class NotDelivered(ConnectionError):
    """No connection to the container could be made: whatever was to be sent never reached it."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Header names in lower case; a repeated header keeps its last value."""
    body: bytes


class _Connection(asyncio.Protocol):
    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._future: asyncio.Future | None = None
        self._buf = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._head: tuple[int, dict[str, str]] | None = None
        self._length: int | None = None  # None: chunked or to-close
        self._chunked = False
        self._body = bytearray()
        self._chunk_left = -1  # -1: expecting a chunk size line
        self._max = 0
        self._keep_alive = True

    # -- asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc) -> None:
        self.closed = True
        future = self._future
        if future is not None and not future.done():
            if self._head is not None and self._length is None and not self._chunked:
                self._finish()  # a read-to-close body ends here
            else:
                future.set_exception(ConnectionResetError("the container closed the connection"))

    def data_received(self, data: bytes) -> None:
        future = self._future
        if future is None or future.done():
            self.closed = True  # bytes nobody asked for: this connection cannot be trusted again
            self.transport.close()
            return
        self._buf += data
        try:
            self._parse()
        except (ProtocolError, ResponseTooLarge) as exc:
            self.closed = True
            self.transport.close()
            if not future.done():
                future.set_exception(exc)

    # -- parsing
    def _parse(self) -> None:
        if self._head is None:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD_BYTES:
                    raise ProtocolError("response head too large")
                return
            self._head = self._parse_head(bytes(self._buf[:end]))
            del self._buf[:end + 4]
        if self._chunked:
            self._parse_chunks()
        elif self._length is not None:
            if len(self._buf) >= self._length:
                self._body = self._buf[:self._length]
                del self._buf[:self._length]
                self._finish()
        else:
            self._body += self._buf
            self._buf.clear()
            if len(self._body) > self._max:
                raise ResponseTooLarge(len(self._body))

    def _parse_head(self, raw: bytes) -> tuple[int, dict[str, str]]:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0][:80]!r}")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        if parts[0] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            self._keep_alive = False
        if headers.get("connection", "").lower() == "close":
            self._keep_alive = False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length") from None
            if self._length > self._max:
                raise ResponseTooLarge(self._length)
        elif int(parts[1]) in (204, 304) or 100 <= int(parts[1]) < 200:
            self._length = 0
        else:
            self._keep_alive = False  # the body ends when the connection does
        return int(parts[1]), headers

    def _parse_chunks(self) -> None:
        while True:
            if self._chunk_left == -2:  # after the last chunk: trailers, if any, then an empty line
                if self._buf.startswith(b"\r\n"):
                    del self._buf[:2]
                    self._finish()
                    return
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                del self._buf[:end + 4]
                self._finish()
                return
            if self._chunk_left == -1:  # a chunk size line
                end = self._buf.find(b"\r\n")
                if end < 0:
                    return
                try:
                    size = int(bytes(self._buf[:end]).split(b";")[0], 16)
                except ValueError:
                    raise ProtocolError("bad chunk size") from None
                del self._buf[:end + 2]
                self._chunk_left = size if size else -2
                continue
            if len(self._buf) < self._chunk_left + 2:
                return
            self._body += self._buf[:self._chunk_left]
            del self._buf[:self._chunk_left + 2]
            self._chunk_left = -1
            if len(self._body) > self._max:
                raise ResponseTooLarge(len(self._body))

    def _finish(self) -> None:
        status, headers = self._head
        future = self._future
        if not future.done():
            future.set_result(Response(status, headers, bytes(self._body)))

    # -- use
    def _expire(self) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_exception(TimeoutError("no response in time"))

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes,
                      max_bytes: int, timeout: float | None = None) -> tuple[Response, bool]:
        """Send one request; (response, whether the connection can serve another). TimeoutError when the
        response is not complete within `timeout` seconds (a timer of the loop's: cheaper than a scope)."""
        self._reset()
        self._max = max_bytes
        loop = asyncio.get_running_loop()
        self._future = loop.create_future()
        timer = loop.call_later(timeout, self._expire) if timeout is not None else None
        head = [f"{method} {path} HTTP/1.1", "Host: function", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
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
        reusable = self._keep_alive and not self.closed and not self._buf
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
                      connect_timeout: float | None = None) -> Response:
        """One request on an idle connection or a new one; TimeoutError after `timeout` seconds in all, and
        NotDelivered when a new connection takes longer than `connect_timeout`."""
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
        response, reusable = await conn.request(method, path, headers, body, max_bytes, timeout)
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
