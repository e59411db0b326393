"""The API's front door (faas.api.front_door): plain invocations answered by it, everything else handed to aiohttp
on the same connection, in order, whatever a client sends."""

import json
import socket
import threading

import pytest

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

ECHO = {"index.py": "def handler(event, context):\n    return event\n"}


@pytest.fixture(scope="module")
def echo(platform):
    name = "front-door-echo"
    platform.api.request("DELETE", f"/v1/functions/{name}")
    platform.api.deploy(name, ECHO)
    yield name
    platform.api.request("DELETE", f"/v1/functions/{name}")


def request(method: str, path: str, token: str | None, body: bytes = b"", headers: dict | None = None,
            version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: test"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if "Transfer-Encoding" not in (headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Reader:
    """HTTP/1.1 answers read off a socket one by one (bodies with a Content-Length, or chunked)."""

    def __init__(self, sock: socket.socket):
        self.sock, self.data = sock, b""

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.data:
            self._more()
        head, _, self.data = self.data.partition(b"\r\n\r\n")
        status_line, *fields = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        if headers.get("transfer-encoding") == "chunked":
            return int(status_line.split(" ")[1]), headers, self._chunks()
        length = int(headers.get("content-length", "0"))
        while len(self.data) < length:
            self._more()
        body, self.data = self.data[:length], self.data[length:]
        return int(status_line.split(" ")[1]), headers, body

    def _chunks(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.data:
                self._more()
            size_line, _, self.data = self.data.partition(b"\r\n")
            size = int(size_line, 16)
            while len(self.data) < size + 2:
                self._more()
            body, self.data = body + self.data[:size], self.data[size + 2:]
            if size == 0:
                return body

    def closed(self) -> bool:
        """Whether the server closes the connection (with nothing more to read)."""
        return self.sock.recv(1) == b"" and not self.data

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, f"the connection closed; unread: {self.data[:200]!r}"
        self.data += chunk


def connect(platform) -> tuple[socket.socket, Reader]:
    sock = socket.create_connection(("127.0.0.1", platform.port), timeout=60)
    return sock, Reader(sock)


def front_door_counts(platform) -> dict[str, int]:
    """faas_front_door_total by result, read over a connection of its own (one more handed over, counted)."""
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("GET", "/metrics", platform.api.token))
        status, _, body = reader.answer()
    assert status == 200
    counts = {}
    for line in body.decode().splitlines():
        if line.startswith("faas_front_door_total{"):
            counts[line.split('"')[1]] = int(float(line.rsplit(" ", 1)[1]))
    return counts


def invoke_path(name: str) -> str:
    return f"/v1/functions/{name}/invocations"


def test_plain_invocations_and_other_requests_share_a_connection_in_order(platform, echo):
    """Pipelined: plain invocations, a request aiohttp answers, and plain ones after it, answered in order."""
    token = platform.api.token
    sent = [request("POST", invoke_path(echo), token, f"event-{i}".encode(), {"X-Fc-Request-Id": f"fd-order-{i}"})
            for i in range(3)]
    sent.append(request("GET", f"/v1/functions/{echo}", token))
    sent += [request("POST", invoke_path(echo), token, f"event-{i}".encode(), {"X-Fc-Request-Id": f"fd-order-{i}"})
             for i in range(3, 5)]
    before = front_door_counts(platform)
    sock, reader = connect(platform)
    with sock:
        sock.sendall(b"".join(sent))  # in one write: the server reads them together
        for expected in (0, 1, 2, None, 3, 4):
            status, headers, body = reader.answer()
            assert status == 200, body
            if expected is None:
                assert json.loads(body)["name"] == echo
            else:
                assert (headers["x-fc-request-id"], body) == (f"fd-order-{expected}", f"event-{expected}".encode())
        # and the connection goes on: one more of each, each in its own write
        for raw, check in ((request("POST", invoke_path(echo), token, b"again"), b"again"),
                           (request("GET", "/healthz", None), b'"ok"')):
            sock.sendall(raw)
            status, _, body = reader.answer()
            assert status == 200 and check in body
    # the front door answered the first three; from the GET on, the connection was aiohttp's
    after = front_door_counts(platform)
    assert (after["answered"] - before["answered"], after["handed_over"] - before["handed_over"]) == (3, 2)


def test_the_front_door_answers_as_aiohttp_does(platform, echo):
    """The same invocation, plain (front door) and chunked (aiohttp's): the same status, headers and body."""
    token = platform.api.token
    chunked = (request("POST", invoke_path(echo), token, headers={"Transfer-Encoding": "chunked"})
               + b"5\r\nhello\r\n0\r\n\r\n")
    answers = []
    before = front_door_counts(platform)
    for raw in (request("POST", invoke_path(echo), token, b"hello"), chunked):
        sock, reader = connect(platform)
        with sock:
            sock.sendall(raw)
            answers.append(reader.answer())
    after = front_door_counts(platform)
    assert (after["answered"] - before["answered"], after["handed_over"] - before["handed_over"]) == (1, 2)
    (plain_status, plain, plain_body), (aio_status, aio, aio_body) = answers
    assert plain_status == aio_status == 200 and plain_body == aio_body == b"hello"
    varying = {"x-fc-request-id", "date", "x-fc-cold-start", "x-fc-instance-id"}
    assert {k: v for k, v in plain.items() if k not in varying} == {k: v for k, v in aio.items() if k not in varying}


@pytest.mark.parametrize("raw", [
    b"POST /v1/functions/x/invocations HTTP/1.1\nHost: x\nContent-Length: 0\n\n",  # bare LF
    b"POST /v1/functions/x/invocations HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",  # obs-fold
    b"POST /v1/functions/x/invocations HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /v1/functions/x/invocations HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n",
    b"POST /v1/functions/x/invocations HTTP/1.1\r\nX-Fc-Request-Id: abc\r\r\nContent-Length: 0\r\n\r\n",
    b"POST /v1/functions/x/invocations HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    b"POST /v1/functions/x/invocations HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
])
def test_malformed_invocations_get_the_json_error_and_a_closed_connection(platform, raw):
    """Whatever llhttp refuses is aiohttp's to answer: its 400, in the JSON error shape; the platform stays up."""
    sock, reader = connect(platform)
    with sock:
        sock.sendall(raw)
        status, headers, body = reader.answer()
        assert status == 400 and headers["content-type"].startswith("application/json"), body
        assert json.loads(body)["error"]["code"] == "InvalidArgument"
        assert reader.closed()
    assert platform.api.request("GET", "/healthz").status_code == 200


def test_an_oversized_event_is_refused_unread(platform, echo):
    """A Content-Length past the sync limit (6 MiB): aiohttp's 413, before any of the body is sent."""
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("POST", invoke_path(echo), platform.api.token)[:-len("Content-Length: 0\r\n\r\n")]
                     + b"Content-Length: 7000000\r\n\r\n")
        status, _, body = reader.answer()
        assert status == 413 and json.loads(body)["error"]["code"] == "PayloadTooLarge"
    # async's limit is 256 KiB
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("POST", invoke_path(echo), platform.api.token, b"x" * (256 * 1024 + 1),
                             {"X-Fc-Invocation-Type": "Async"}))
        status, _, body = reader.answer()
        assert status == 413 and json.loads(body)["error"]["code"] == "PayloadTooLarge"


@pytest.mark.parametrize("path,headers,status,code,plain", [
    ("/v1/functions/Bad_Name/invocations", {}, 400, "InvalidArgument", True),
    ("/v1/functions/x%0A/invocations", {}, 400, "InvalidArgument", False),
    ("/v1/functions/{echo}/invocations?qualifier=1%0A", {}, 400, "InvalidArgument", False),
    ("/v1/functions/{echo}/invocations?qualifier=", {}, 400, "InvalidArgument", True),
    ("/v1/functions/{echo}/invocations?qualifier=99", {}, 404, "VersionNotFound", True),
    ("/v1/functions/{echo}/invocations?qualifier=LATEST&qualifier=1", {}, 200, None, False),
    ("/v1/functions/{echo}/invocations", {"X-Fc-Request-Id": "a" * 65}, 400, "InvalidArgument", True),
    ("/v1/functions/{echo}/invocations", {"X-Fc-Request-Id": "init-forged"}, 400, "InvalidArgument", True),
    ("/v1/functions/{echo}/invocations", {"X-Faas-Trigger": "http/forged"}, 403, "Forbidden", True),
    ("/v1/functions/{echo}/invocations", {"X-Fc-Attempt": "2"}, 403, "Forbidden", True),
    ("/v1/functions/{echo}/invocations", {"X-Faas-Platform": "forged", "X-Fc-Attempt": "2"}, 403, "Forbidden", True),
    ("/v1/functions/{echo}/invocations", {"X-Fc-Invocation-Type": "Later"}, 400, "InvalidArgument", True),
    ("/v1/functions/{echo}/invocations", {"X-Fc-Log-Type": "All"}, 400, "InvalidArgument", True),
    ("/v1/functions/{echo}/invocations", {"X-Fc-Async-Task-Id": "t1"}, 400, "InvalidArgument", True),
    ("/v1/functions/{echo}/invocations", {"X-Note": "caf\xe9"}, 200, None, False),  # (not ASCII: aiohttp's)
    ("/v1/functions/{echo}/invocations", {f"X-Many-{i}": "1" for i in range(100)}, 200, None, False),  # (aiohttp's)
    ("/v1/functions/{echo}/invocations", {"Expect": "100-continue"}, 200, None, False),  # (aiohttp's)
    ("/v1/functions/no-such-function-fd/invocations", {}, 404, "FunctionNotFound", True),
])
def test_forged_and_odd_invocations(platform, echo, path, headers, status, code, plain):
    """Each answered as aiohttp would, by the front door when it is `plain`, else by aiohttp."""
    before = front_door_counts(platform)
    sock, reader = connect(platform)
    with sock:
        raw = request("POST", path.format(echo=echo), platform.api.token, b"", headers)
        sock.sendall(raw.replace("é".encode(), b"\xe9"))  # (a Latin-1 byte, as some clients send)
        got, _, body = reader.answer()
        if got == 100:  # (Expect: the interim answer, then the real one)
            got, _, body = reader.answer()
        assert got == status, body
        if code is not None:
            assert json.loads(body)["error"]["code"] == code
    after = front_door_counts(platform)
    assert (after["answered"] - before["answered"], after["handed_over"] - before["handed_over"]) \
        == ((1, 1) if plain else (0, 2))


@pytest.mark.parametrize("token,status", [(None, 401), ("not-a-token", 401), ("\t", 401)])
def test_invocations_without_a_valid_token_are_refused(platform, echo, token, status):
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("POST", invoke_path(echo), token))
        got, headers, body = reader.answer()
        assert got == status and json.loads(body)["error"]["code"] == "Unauthorized"
        assert headers["www-authenticate"] == 'Bearer realm="faas"'


def test_a_connection_that_asks_to_close_is_closed_after_its_answer(start_platform):
    """Connection: close (or HTTP/1.0): closed once answered, long before the keep-alive timeout (600 s here,
    beyond the sockets' 60 s)."""
    plat = start_platform(FAAS_KEEPALIVE_TIMEOUT="600")
    plat.api.deploy("bye", ECHO)
    for version, headers in (("1.0", {}), ("1.1", {"Connection": "close"}), ("1.1", {"Connection": "Close"})):
        sock, reader = connect(plat)
        with sock:
            sock.sendall(request("POST", invoke_path("bye"), plat.api.token, b"bye", headers, version=version))
            status, _, body = reader.answer()
            assert (status, body) == (200, b"bye")
            assert reader.closed()


def test_async_invocations_through_the_front_door(platform, echo):
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("POST", invoke_path(echo), platform.api.token, b"{}",
                             {"X-Fc-Invocation-Type": "Async", "X-Fc-Async-Task-Id": "fd-task-1"}))
        status, headers, body = reader.answer()
    assert status == 202 and json.loads(body) == {"requestId": "fd-task-1"} == {"requestId": headers["x-fc-request-id"]}
    assert headers["content-type"] == "application/json; charset=utf-8"


def test_a_client_gone_mid_invocation_leaves_the_platform_serving(platform, fn_name):
    slow = "import time\ndef handler(e, c):\n    time.sleep(1)\n    return 'late'\n"
    platform.api.deploy(fn_name, {"index.py": slow})
    sock, _ = connect(platform)
    sock.sendall(request("POST", invoke_path(fn_name), platform.api.token))
    wait_for(lambda: any(i["state"] == "Busy" for i in
                         platform.api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]),
             timeout=60, interval=0.05, what="the call to run")
    sock.close()  # gone while its answer is being made
    # the answer is dropped; the instance is free again and the next call is answered
    assert platform.api.invoke(fn_name).text == "late"
    platform.api.request("DELETE", f"/v1/functions/{fn_name}")


def test_a_graceful_stop_waits_for_the_answer_being_made(start_platform, fn_name):
    """SIGTERM while a plain invocation runs: its answer is written whole before the connection closes."""
    plat = start_platform()
    plat.api.deploy(fn_name, {"index.py": "import time\ndef handler(e, c):\n    time.sleep(2)\n    return 'whole'\n"})
    got: list = []
    sock, reader = connect(plat)

    def call():
        sock.sendall(request("POST", invoke_path(fn_name), plat.api.token))
        got.append(reader.answer())

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: any(i["state"] == "Busy" for i in
                         plat.api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]),
             timeout=60, interval=0.05, what="the call to run")
    plat.stop()
    caller.join(timeout=60)
    sock.close()
    assert got and got[0][0] == 200 and got[0][2] == b"whole"


def test_a_client_that_reads_slowly_gets_every_pipelined_answer_in_order(platform, echo):
    """40 pipelined invocations with 500 KB answers: the front door stops answering (and reading) while the
    client does not read, and goes on when it does, in order."""
    token, size, count = platform.api.token, 500_000, 40
    sock, reader = connect(platform)
    raws = [request("POST", invoke_path(echo), token, bytes([65 + i % 26]) * size, {"X-Fc-Request-Id": f"fd-slow-{i}"})
            for i in range(count)]
    sender = threading.Thread(target=sock.sendall, args=(b"".join(raws),))
    sender.start()
    sender.join(timeout=3)
    assert sender.is_alive(), "the server read 20 MB of requests while their answers went unread"
    with sock:  # reading the answers lets the server, and so the sender, go on
        for i in range(count):
            status, headers, body = reader.answer()
            assert (status, headers["x-fc-request-id"]) == (200, f"fd-slow-{i}")
            assert body == bytes([65 + i % 26]) * size
        sender.join(timeout=60)
    assert not sender.is_alive()


TRIGGERED = """
import json
def handler(event, context):
    e = json.loads(event)
    if e["rawPath"] == "/status":
        return {"statusCode": 418, "headers": {"X-Tea": "pot", "Set-Cookie": ["a=1", "b=2"]}, "body": "short"}
    if e["rawPath"] == "/empty":
        return {"statusCode": 204, "headers": {"X-Empty": "yes"}, "body": ""}
    return e
"""

WSGI_APP = """
def handler(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Many", "1"), ("X-Many", "2")])
    return [environ["PATH_INFO"].encode() + b" " + body]
"""


def with_trigger(platform, name: str, files: dict, auth: str = "anonymous", **spec) -> str:
    platform.api.request("DELETE", f"/v1/functions/{name}")
    platform.api.deploy(name, files, **spec)
    resp = platform.api.request("POST", f"/v1/functions/{name}/triggers", json={
        "triggerName": "web", "triggerType": "http", "triggerConfig": {"authType": auth}})
    assert resp.status_code == 201, resp.text
    return name


@pytest.fixture(scope="module")
def triggered(platform):
    yield with_trigger(platform, "front-door-triggered", {"index.py": TRIGGERED})
    platform.api.request("DELETE", "/v1/functions/front-door-triggered")


def chunked(raw: bytes, body: bytes) -> bytes:
    """`raw` (a request with no body) sent with `body` in one chunk: aiohttp's to answer."""
    head = raw.replace(b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n")
    return head + (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"


@pytest.mark.parametrize("method,path,body", [
    ("GET", "", b""), ("POST", "/", b"hello"), ("PUT", "/a/b?x=1&x=2&empty=&enc=%2F", b"{}"),
    ("DELETE", "/status", b""), ("PATCH", "/empty", b"x"), ("OPTIONS", "/o", b""),
])
def test_trigger_requests_are_answered_alike_by_the_front_door_and_aiohttp(platform, triggered, method, path, body):
    """The same request through the trigger, plain (the front door's) and chunked (aiohttp's): the same status,
    headers (Set-Cookie twice, no body for a 204) and event."""
    plain_raw = request(method, f"/function/{triggered}{path}", None, body)
    aio_raw = chunked(request(method, f"/function/{triggered}{path}", None), body)
    before = front_door_counts(platform)
    answers = []
    for raw in (plain_raw, aio_raw):
        sock, reader = connect(platform)
        with sock:
            sock.sendall(raw)
            answers.append(reader.answer())
            if answers[-1][0] == 204:
                sock.sendall(request("GET", "/healthz", None))  # (a 204 has no body: the next answer follows it)
                assert reader.answer()[0] == 200
    after = front_door_counts(platform)
    assert (after["answered"] - before["answered"], after["handed_over"] - before["handed_over"]) \
        == (1, 2 + (path == "/empty"))
    (status, headers, got), (aio_status, aio_headers, aio_got) = answers
    varying = {"x-fc-request-id", "date", "content-length"}
    assert status == aio_status and {k: v for k, v in headers.items() if k not in varying} \
        == {k: v for k, v in aio_headers.items() if k not in varying}
    if path == "/status":
        assert (status, got) == (418, b"short") and headers["set-cookie"]  # (the Reader keeps the last)
        sock, reader = connect(platform)  # both cookies, as two lines
        with sock:
            sock.sendall(plain_raw)
            while b"\r\n\r\n" not in reader.data:
                reader._more()
        assert reader.data.count(b"Set-Cookie: ") == 2
    elif path == "/empty":
        assert (status, got, "content-length" in headers) == (204, b"", False)
    else:
        event, aio_event = json.loads(got), json.loads(aio_got)
        for key in ("rawPath", "queryParameters", "body", "isBase64Encoded"):
            assert event[key] == aio_event[key]
        assert event["requestContext"]["http"] == aio_event["requestContext"]["http"]
        assert event["body"] == body.decode()


@pytest.mark.parametrize("method,path", [
    ("GET", "/a%20b"), ("GET", "//x"), ("GET", "/./x"), ("GET", "/a/../b"), ("HEAD", "/"),
])
def test_trigger_requests_that_are_not_plain_are_aiohttps(platform, triggered, method, path):
    before = front_door_counts(platform)
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request(method, f"/function/{triggered}{path}", None))
        if method == "HEAD":
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200")
        else:
            status, _, body = reader.answer()
            assert status == 200 and json.loads(body)["requestContext"]["http"]["method"] == method
    after = front_door_counts(platform)
    assert (after["answered"] - before["answered"], after["handed_over"] - before["handed_over"]) == (0, 2)


def test_a_web_functions_request_is_handed_to_aiohttp_whole(platform):
    """A WSGI function's trigger request looks plain; once it is found to be a web function's, aiohttp takes it as
    it was sent, and the requests after it on the connection."""
    name = with_trigger(platform, "front-door-wsgi", {"index.py": WSGI_APP}, handlerType="wsgi")
    before = front_door_counts(platform)
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("POST", f"/function/{name}/first", None, b"one")
                     + request("POST", f"/function/{name}/second", None, b"two"))
        for expected in (b"/first one", b"/second two"):
            status, _, body = reader.answer()
            assert (status, body) == (201, expected)
    after = front_door_counts(platform)
    assert (after["answered"] - before["answered"], after["handed_over"] - before["handed_over"]) == (0, 2)
    platform.api.request("DELETE", f"/v1/functions/{name}")


def test_a_trigger_with_auth_through_the_front_door(platform):
    name = with_trigger(platform, "front-door-authed", {"index.py": TRIGGERED}, auth="function")
    sock, reader = connect(platform)
    with sock:
        for token, status in ((None, 401), ("forged", 401), (platform.api.token, 200)):
            sock.sendall(request("POST", f"/function/{name}/x", token, b"b"))
            got, _, body = reader.answer()
            assert got == status, body
        event = json.loads(body)
        assert "Authorization" not in event["headers"]  # (an authType function trigger drops it)
        sock.sendall(request("POST", f"/function/{name}/x", platform.api.token, b"{}",
                             {"X-Fc-Invocation-Type": "Async"}))
        got, headers, body = reader.answer()
        assert got == 202 and json.loads(body)["requestId"] == headers["x-fc-request-id"]
    platform.api.request("DELETE", f"/v1/functions/{name}")


@pytest.mark.parametrize("between", [b"\r\n", b"\r\n\r\n", b"\n"])
def test_trailing_newlines_after_a_request(platform, echo, between):
    """Line ends after a request's body (some clients send them): llhttp skips them before a request, so the next
    request is answered all the same, by whichever path takes it."""
    token = platform.api.token
    sock, reader = connect(platform)
    with sock:
        sock.sendall(request("POST", invoke_path(echo), token, b"first") + between
                     + request("POST", invoke_path(echo), token, b"second"))
        assert reader.answer()[::2] == (200, b"first")
        assert reader.answer()[::2] == (200, b"second")
