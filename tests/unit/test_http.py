"""The container HTTP client against a raw socket server that answers canned bytes."""

import asyncio
import os
import socket

import pytest

from faas.pool.http import ConnectionPool, NotDelivered, ProtocolError, ResponseTooLarge, UnixEndpoint


def run(coro):
    return asyncio.run(coro)


async def serve(replies: list[bytes], seen: list[bytes] | None = None, close_after: bool = False):
    """A server that answers each request (read up to the end of its head) with the next reply."""
    connections = []

    async def handle(reader, writer):
        connections.append(writer)
        while replies:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            if seen is not None:
                seen.append(head + body)
            writer.write(replies.pop(0))
            await writer.drain()
            if close_after:
                writer.close()
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], connections


def test_content_length_and_keep_alive():
    async def main():
        seen = []
        server, port, conns = await serve([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Fc-Status: 404\r\n\r\nhello",
                                           b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"], seen)
        pool = ConnectionPool("127.0.0.1", port)
        first = await pool.request("POST", "/invoke", {"x-fc-request-id": "r1"}, b"event")
        second = await pool.request("GET", "/pre-stop", {})
        pool.close()
        server.close()
        return first, second, seen, conns

    first, second, seen, conns = run(main())
    assert (first.status, first.body, first.headers["x-fc-status"]) == (200, b"hello", "404")
    assert (second.status, second.body) == (201, b"")
    assert len(conns) == 1  # the second request reused the connection
    assert seen[0].startswith(b"POST /invoke HTTP/1.1\r\n") and seen[0].endswith(b"\r\n\r\nevent")
    assert b"x-fc-request-id: r1\r\n" in seen[0]


def test_chunked_body_with_trailers_split_across_packets():
    reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n")

    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            for i in range(0, len(reply), 7):  # dribble it out
                writer.write(reply[i:i + 7])
                await writer.drain()
                await asyncio.sleep(0.001)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = ConnectionPool("127.0.0.1", server.sockets[0].getsockname()[1])
        resp = await pool.request("GET", "/", {})
        server.close()
        return resp

    assert run(main()).body == b"hello world"


def test_body_until_close():
    assert request_once(b"HTTP/1.1 200 OK\r\n\r\nall of it", close_after=True).body == b"all of it"


def request_once(reply: bytes, close_after: bool = False, **kw):
    """One GET against a server that answers `reply`."""

    async def main():
        server, port, _ = await serve([reply], close_after=close_after)
        try:
            return await ConnectionPool("127.0.0.1", port).request("GET", "/", {}, **kw)
        finally:
            server.close()

    return run(main())


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"x" * 100 + b"\r\n0\r\n\r\n",
])
def test_response_too_large(reply):
    with pytest.raises(ResponseTooLarge):
        request_once(reply, max_bytes=50)


OK_HEAD = b"HTTP/1.1 200 OK\r\n"
CHUNKED = OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("reply,reason", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not valid HTTP"),
    (OK_HEAD + b"broken header\r\n\r\n", "not valid HTTP"),
    (OK_HEAD + b"Content-Length: x\r\n\r\n", "Content-Length"),
    (OK_HEAD + b"Content-Length: -5\r\n\r\nabc", "Content-Length"),
    (OK_HEAD + b"Content-Length: +3\r\n\r\nabc", "Content-Length"),
    (OK_HEAD + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "Content-Length"),
    (OK_HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     "Transfer-Encoding"),
    (b"HTTP/1.1 999 OK\r\nContent-Length: 0\r\n\r\n", "status 999"),
    (b"HTTP/1.1 1000 OK\r\nContent-Length: 0\r\n\r\n", "status"),
    (b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", "status"),
    (b"HTTP/1.1 100 Continue\r\n\r\n", "status 100"),
    ("HTTP/1.1 2\u00b200 OK\r\nContent-Length: 0\r\n\r\n".encode(), "status"),  # a superscript digit
    ("HTTP/1.1 \u0662\u0660\u0660 OK\r\nContent-Length: 0\r\n\r\n".encode(), "status"),  # Arabic-Indic digits
    (b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/2.0"),
    (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "not valid HTTP"),  # bare LFs
    (OK_HEAD + b"X-A: a\x00b\r\nContent-Length: 0\r\n\r\n", "not valid HTTP"),
    (OK_HEAD + b"X A: 1\r\nContent-Length: 0\r\n\r\n", "not valid HTTP"),
    (OK_HEAD + b"X-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n", "not valid HTTP"),
    (OK_HEAD + b"X-A: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n", "header of the reply is longer"),
    (b"HTTP/1.1 200 " + b"O" * 9000 + b"\r\nContent-Length: 0\r\n\r\n", "status line"),
    (OK_HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"Content-Length: 0\r\n\r\n", "more than 100"),
    (OK_HEAD + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 8000) for i in range(9)) + b"\r\n", "head is larger"),
    (OK_HEAD + b"X-A: " + b"a" * 100_000, "head is larger"),  # a head that never ends
    (CHUNKED + b"ffffffffffffffffffff\r\nabc", "not valid HTTP"),  # a chunk size past 64 bits
    (CHUNKED + b"zz\r\nabc\r\n0\r\n\r\n", "not valid HTTP"),
    (CHUNKED + b"1\r\naXX0\r\n\r\n", "not valid HTTP"),  # no CRLF after the chunk's data
    (CHUNKED + b"3;" + b"e" * 200_000, "framing"),  # a chunk-size line that never ends
    (CHUNKED + b"1\r\nx\r\n" * 60_000 + b"0\r\n\r\n", "framing"),  # one-byte chunks
    (CHUNKED + b"1\r\nx\r\n0\r\n" + b"".join(b"T-%d: 1\r\n" % i for i in range(101)) + b"\r\n", "trailer"),
    (CHUNKED + b"1\r\nx\r\n0\r\nT: " + b"t" * 9000 + b"\r\n\r\n", "longer"),
])
def test_a_reply_that_breaks_a_rule_fails_with_the_reason(reply, reason):
    with pytest.raises(ProtocolError, match=reason):
        request_once(reply)


@pytest.mark.parametrize("reply", [
    CHUNKED + b"ffffffffff\r\n" + b"x" * 200_000,  # a chunk of a terabyte, then bytes as they come
    OK_HEAD + b"Content-Length: 99999999999999\r\n\r\n" + b"x" * 1000,
    OK_HEAD + b"Transfer-Encoding: gzip\r\n\r\n" + b"x" * 200_000,  # read to close
    OK_HEAD + b"\r\n" + b"x" * 200_000,
])
def test_a_body_past_the_limit_is_refused_as_it_comes(reply):
    with pytest.raises(ResponseTooLarge):
        request_once(reply, max_bytes=100_000)


def test_a_chunk_size_that_never_ends_is_refused_before_the_container_stops_sending():
    """The container streams a chunk-size line for ever: the client gives up after a bounded read, long
    before the stream ends (it would never end)."""
    sent = []

    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(CHUNKED + b"1")
            try:
                for _ in range(10_000):
                    writer.write(b"0" * 4096 if not sent else b";" + b"e" * 4095)
                    sent.append(4096)
                    await writer.drain()
            except ConnectionError:
                pass

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            with pytest.raises((ProtocolError, ResponseTooLarge)):
                await ConnectionPool("127.0.0.1", server.sockets[0].getsockname()[1]).request("GET", "/", {})
        finally:
            server.close()

    run(main())
    assert len(sent) < 10_000  # the client closed the connection


def test_bytes_after_the_reply_keep_the_reply_but_not_the_connection():
    async def main():
        server, port, conns = await serve([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
                                           b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                                           b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny"])
        pool = ConnectionPool("127.0.0.1", port)
        first = await pool.request("GET", "/", {})
        second = await pool.request("GET", "/", {})
        pool.close()
        server.close()
        return first.body, second.body, len(conns)

    assert run(main()) == (b"x", b"y", 2)  # the second request needed a new connection


@pytest.mark.parametrize("reply,body", [
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
    (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    (b"HTTP/1.1 599 Whatever\r\nContent-Length: 2\r\n\r\nok", b"ok"),
    (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", b"ok"),  # no reason phrase
    (CHUNKED + b"2;name=value\r\nok\r\n0\r\nTrailer: 1\r\n\r\n", b"ok"),
])
def test_replies_within_the_rules(reply, body):
    assert request_once(reply).body == body


def test_connection_closed_mid_response():
    with pytest.raises(ConnectionResetError):
        request_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close_after=True)


def test_cancelled_request_does_not_reuse_the_connection():
    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.2)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
            await writer.drain()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = ConnectionPool("127.0.0.1", server.sockets[0].getsockname()[1])
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.05):
                await pool.request("GET", "/", {})
        idle = list(pool._idle)
        server.close()
        return idle

    assert run(main()) == []


def test_timeout_closes_the_connection():
    async def main():
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(1)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = ConnectionPool("127.0.0.1", server.sockets[0].getsockname()[1])
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/", {}, timeout=0.05)
        idle = list(pool._idle)
        server.close()
        return idle

    assert run(main()) == []


def _own_cgroup() -> str:
    """Something /proc/<pid>/cgroup of this process holds, standing in for a container id."""
    with open(f"/proc/{os.getpid()}/cgroup") as f:
        return f.read().splitlines()[0]


async def _unix_and_tcp(path):
    """One server on a Unix socket at `path` and on a TCP port, telling which one answered."""
    def handler(name):
        async def handle(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(name), name))
            await writer.drain()
        return handle

    unix = await asyncio.start_unix_server(handler(b"unix"), str(path))
    tcp = await asyncio.start_server(handler(b"tcp"), "127.0.0.1", 0)
    return unix, tcp, tcp.sockets[0].getsockname()[1]


def test_unix_socket_preferred(tmp_path):
    async def main():
        unix, tcp, port = await _unix_and_tcp(tmp_path / "rt.sock")
        pool = ConnectionPool("127.0.0.1", port, UnixEndpoint(os.getpid(), _own_cgroup(), str(tmp_path / "rt.sock")))
        body = (await pool.request("GET", "/", {})).body
        pool.close(), unix.close(), tcp.close()
        return body, pool.transport

    assert run(main()) == (b"unix", "unix")


@pytest.mark.parametrize("case", ["symlink", "not-a-socket", "missing"])
def test_unusable_unix_socket_falls_back_to_tcp(tmp_path, case):
    """A path the function controls never sends the platform elsewhere; TCP serves instead."""
    async def main():
        unix, tcp, port = await _unix_and_tcp(tmp_path / "real.sock")
        path, owner = tmp_path / "rt.sock", _own_cgroup()
        if case == "symlink":
            path.symlink_to(tmp_path / "real.sock")
        elif case == "not-a-socket":
            path.write_text("x")
        endpoint = UnixEndpoint(os.getpid(), owner, str(path))
        with pytest.raises(OSError):
            await endpoint.connect()
        pool = ConnectionPool("127.0.0.1", port, endpoint)
        body = (await pool.request("GET", "/", {})).body
        pool.close(), unix.close(), tcp.close()
        return body, pool.transport

    assert run(main()) == (b"tcp", "tcp")


def test_a_pid_that_is_no_longer_the_containers_is_never_used(tmp_path):
    """The container's process is gone (its pid now belongs to someone else): nothing is sent anywhere, and
    the caller learns that the request was not delivered, so another container can take it."""
    async def main():
        unix, tcp, port = await _unix_and_tcp(tmp_path / "real.sock")
        endpoint = UnixEndpoint(os.getpid(), "f" * 64, str(tmp_path / "real.sock"))
        with pytest.raises(OSError):
            await endpoint.connect()
        pool = ConnectionPool("127.0.0.1", port, endpoint)
        try:
            with pytest.raises(NotDelivered):
                await pool.request("GET", "/", {})
        finally:
            pool.close(), unix.close(), tcp.close()

    run(main())


def test_a_refused_connection_is_not_delivered():
    async def main():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # nothing listens there once closed
        with pytest.raises(NotDelivered):
            await ConnectionPool("127.0.0.1", port).request("GET", "/", {})

    run(main())


def test_a_reply_that_ends_within_one_read_is_checked_before_it_is_taken():
    """The framing bound holds when a whole reply of one-byte chunks comes in one read (a socket test may
    split it anywhere)."""
    from faas.pool.http import _Connection

    class Transport:
        closed = False

        def get_extra_info(self, name):
            return None

        def close(self):
            self.closed = True

    async def main():
        conn = _Connection()
        conn.connection_made(Transport())
        conn._max = 1 << 20
        conn._future = asyncio.get_running_loop().create_future()
        conn.data_received(CHUNKED + b"1\r\nx\r\n" * 30_000 + b"0\r\n\r\n")
        return conn._future

    future = run(main())
    assert isinstance(future.exception(), ProtocolError) and "framing" in str(future.exception())
