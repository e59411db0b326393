"""A custom container whose replies break HTTP's rules, on the invoke path (the platform's own client) and the
web path (an HTTP trigger): each such call fails alone with an error naming the reason, the container is
replaced, the control plane's memory stays bounded, and another function keeps answering meanwhile."""

import socket
import threading
import time

import pytest
import requests

from helpers import build_server_image, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

LIAR = r'''
import os, socket, socketserver, time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nfine"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
FLOOD = 1024 * 1024 * 1024  # what a flood sends at most, unless the platform hangs up first
REPLIES = {
    b"negative-length": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabc",
    b"status-999": b"HTTP/1.1 999 OK\r\nContent-Length: 4\r\n\r\nfine",
    b"superscript-status": "HTTP/1.1 2\u00b200 OK\r\nContent-Length: 4\r\n\r\nfine".encode(),
    b"length-and-chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"4\r\nfine\r\n0\r\n\r\n",
}


def flood(wfile, first, unit):
    wfile.write(first)
    sent, block = 0, unit * (65536 // len(unit))
    while sent < FLOOD:
        wfile.write(block)
        sent += len(block)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            line = self.rfile.readline(65537)
            if not line:
                return
            target, length = line.split()[1], 0
            while (header := self.rfile.readline(65537)) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            body = self.rfile.read(length)
            case = body if target == b"/invoke" else target.lstrip(b"/")
            try:
                if case in REPLIES:
                    self.wfile.write(REPLIES[case])
                    return
                if case == b"chunk-flood":  # a chunk of a terabyte, then bytes as fast as they go
                    return flood(self.wfile, CHUNKED + b"ffffffffff\r\n", b"x")
                if case == b"chunk-line":  # a chunk-size line that never ends
                    return flood(self.wfile, CHUNKED + b"1;", b"e")
                if case == b"stream-then-hang":  # a streamed answer, then nothing until the timeout
                    self.wfile.write(CHUNKED + b"6\r\nfirst\n\r\n")
                    self.wfile.flush()
                    time.sleep(600)
                    return
                self.wfile.write(OK)
            except OSError:  # the platform hung up, as it should
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("0.0.0.0", int(os.environ.get("FC_SERVER_PORT", "9000"))), Handler).serve_forever()
'''

CASES = {  # what the invoke path says of each reply
    "negative-length": "Content-Length",
    "status-999": "status 999",
    "superscript-status": "status",
    "length-and-chunked": "Transfer-Encoding",
    "chunk-line": "framing",
}


@pytest.fixture(scope="module")
def liar_image(docker_client, platform):
    tag = build_server_image(docker_client, f"faas-test-liar-{platform.platform_id}:1", LIAR)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture
def liar(api, liar_image, fn_name):
    api.deploy(fn_name, None, runtime="custom-container", customContainer={"image": liar_image},
               timeoutSeconds=3, memoryMB=128)
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers",
                       json={"triggerName": "web", "triggerType": "http", "triggerConfig": {"authType": "anonymous"}})
    assert resp.status_code == 201, resp.text
    return fn_name


@pytest.fixture
def bystander(api, fn_name):
    name = fn_name[:50] + "-by"
    api.deploy(name, {"index.py": "def handler(event, context):\n    return b'ok:' + event\n"})
    assert api.invoke(name, b"warm").content == b"ok:warm"
    return name


class Watch:
    """While a hostile call runs: the control plane's resident memory, sampled, and its peak since the call
    began, and another function called over and over (each call must succeed; how long each took is kept to be
    printed)."""

    def __init__(self, platform, bystander: str):
        self.platform, self.bystander = platform, bystander
        self.rss_kb: list[int] = []
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._call, daemon=True)]

    def _rss(self, field: str = "VmRSS") -> int:
        with open(f"/proc/{self.platform.proc.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.rss_kb.append(self._rss())
        self.rss_kb.append(self._rss("VmHWM"))  # the peak, should a growth fall between two samples

    def _call(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                # 15 s is a bound on a stall, not a speed check: before, a chunk-size line stalled everything 19 s
                resp = self.platform.api.invoke(self.bystander, b"x")
                if resp.content != b"ok:x":
                    self.failures.append(f"{resp.status_code} {resp.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(repr(exc))
            self.latencies.append(time.monotonic() - t0)
            self._stop.wait(0.02)

    def __enter__(self):
        # The peak (VmHWM) is the process's since it started: an earlier test's may stand above this one's.
        # Writing 5 to clear_refs starts it again from the present (Linux 4.0 and later, as root).
        with open(f"/proc/{self.platform.proc.pid}/clear_refs", "w") as refs:
            refs.write("5")
        self.before_kb = self._rss()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def check(self, what: str) -> None:
        grown = (max(self.rss_kb, default=self.before_kb) - self.before_kb) // 1024
        latencies = sorted(self.latencies)
        p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0
        print(f"{what}: control plane RSS {self.before_kb // 1024} MB, grew {grown} MB at most; "
              f"bystander {len(latencies)} calls, p99 {p99:.1f} ms")
        assert not self.failures, self.failures[:3]
        assert latencies, "the other function was never called"
        assert grown < 100, f"the control plane grew by {grown} MB"


def invoke(api, name: str, case: str) -> requests.Response:
    return api.request("POST", f"/v1/functions/{name}/invocations", data=case.encode(), timeout=60)


@pytest.mark.parametrize("case,reason", sorted(CASES.items()))
def test_invoke_path_refuses_a_broken_reply(api, platform, liar, bystander, case, reason):
    first = invoke(api, liar, "ok")
    assert first.content == b"fine", first.text
    with Watch(platform, bystander) as watch:
        resp = invoke(api, liar, case)
    assert resp.status_code == 200 and resp.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    error = resp.json()
    assert error["errorType"] == "InvalidResponse" and reason in error["errorMessage"], error
    watch.check(f"invoke {case}")
    # The container that lied is replaced; the next call is served by a new one.
    after = invoke(api, liar, "ok")
    assert after.content == b"fine" and after.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]
    assert api.request("GET", "/healthz").status_code == 200


def test_invoke_path_refuses_a_chunk_flood_at_the_response_limit(api, platform, liar, bystander):
    first = invoke(api, liar, "ok")
    with Watch(platform, bystander) as watch:
        resp = invoke(api, liar, "chunk-flood")
    assert resp.json()["errorType"] == "ResponseTooLarge", resp.text
    watch.check("invoke chunk-flood")
    after = invoke(api, liar, "ok")
    assert after.content == b"fine" and after.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


def web(platform, name: str, case: str, **kw) -> requests.Response:
    return requests.get(f"{platform.url}/function/{name}/{case}", timeout=60, **kw)


@pytest.mark.parametrize("case", ["negative-length", "status-999", "superscript-status", "length-and-chunked"])
def test_web_path_refuses_a_broken_reply(platform, liar, bystander, case):
    assert web(platform, liar, "ok").text == "fine"
    with Watch(platform, bystander) as watch:
        resp = web(platform, liar, case)
    assert resp.status_code == 502 and resp.headers["X-Fc-Error-Type"] == "UnhandledInvocationError", resp.text
    error = resp.json()
    assert error["errorType"] == "InvalidResponse", error
    assert "172." not in error["errorMessage"] and ":9000" not in error["errorMessage"]  # no internal address
    watch.check(f"web {case}")
    assert web(platform, liar, "ok").text == "fine"


@pytest.mark.parametrize("case", ["chunk-flood", "chunk-line"])
def test_web_path_bounds_a_flood_by_the_timeout(platform, liar, bystander, case):
    """A flood through an HTTP trigger is streamed to the client (the platform keeps none of it) until the
    function's timeout ends it; a chunk-size line that never ends gives the client nothing."""
    got = bytearray()
    with Watch(platform, bystander) as watch:
        try:
            with web(platform, liar, case, stream=True) as resp:
                for chunk in resp.iter_content(1 << 16):
                    got += chunk[:64]  # keep only a little: the test's own memory is not the point
        except requests.RequestException:
            pass  # the answer had begun: it is broken off
    watch.check(f"web {case}")
    assert b"HTTP/1.1" not in got
    assert web(platform, liar, "ok").text == "fine"


def test_web_path_breaks_a_stream_cut_by_the_timeout(api, platform, liar):
    """The function's timeout ends a streamed answer that has begun: the connection is broken, so the client
    sees a body cut short, never a second status line (or a chunked body's proper end) written into it."""
    with socket.create_connection(("127.0.0.1", platform.port), timeout=60) as conn:
        conn.sendall(f"GET /function/{liar}/stream-then-hang HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        raw = b""
        while chunk := conn.recv(65536):  # until the platform closes the connection
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower(), raw
    assert body == b"6\r\nfirst\n\r\n", raw  # the chunk that came, and nothing after it
    rid = next(line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
               if line.lower().startswith(b"x-fc-request-id:"))

    def report():
        text = api.request("GET", f"/v1/functions/{liar}/logs").text
        return next((line for line in text.splitlines() if f"REPORT RequestId: {rid}" in line), None)

    wait_for(report, timeout=30, what="the broken call's REPORT line")
    assert web(platform, liar, "ok").text == "fine"  # a new container: the one that hung is gone
