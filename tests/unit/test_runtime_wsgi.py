"""The runtime's WSGI functions, run in-process: the environ, chunked bodies both ways, start_response's checks,
and hostile chunk framing."""

import json
import socket
import threading

import pytest
import requests

from fcruntime import wsgi
from fcruntime.server import Handler, Runtime, Server

APP = """
import json, time

def handler(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        def pieces():
            for i in range(3):
                yield b"piece %d\\n" % i
        return pieces()
    if path == "/no-start":
        return [b"x"]
    if path == "/write":
        write = start_response("200 OK", [])
        write(b"written ")
        return [b"returned"]
    body = environ["wsgi.input"].read()
    seen = {k: v for k, v in environ.items() if isinstance(v, str)}
    seen["body"] = body.decode("latin-1")
    seen["function"] = environ["fc.context"].function.name
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "999")])
    return [json.dumps(seen).encode()]
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "rt_wsgi.py").write_text(APP)
    Handler.runtime = Runtime({"FC_CODE_DIR": str(tmp_path), "FC_FUNCTION_HANDLER": "rt_wsgi.handler",
                               "FC_FUNCTION_NAME": "web-fn", "FC_FUNCTION_HANDLER_TYPE": "wsgi"})
    srv = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    import sys
    sys.modules.pop("rt_wsgi", None)


WEB = {wsgi.WEB_HEADER: "1", "x-fc-request-id": "req-1"}


def test_environ_of_a_request(server):
    resp = requests.put(f"{server}/a%20b/c?x=1&x=2", data=b"\xff body", timeout=10,
                        headers=WEB | {"Content-Type": "text/x", "X-Thing": "t", "X-Fc-Other": "hidden"})
    assert resp.status_code == 200 and resp.headers["Transfer-Encoding"] == "chunked"
    assert "999" not in resp.headers.get("Content-Length", "")  # the runtime frames the body, not the app
    seen = resp.json()
    assert seen["REQUEST_METHOD"] == "PUT" and seen["PATH_INFO"] == "/a b/c" and seen["QUERY_STRING"] == "x=1&x=2"
    assert seen["CONTENT_TYPE"] == "text/x" and seen["CONTENT_LENGTH"] == "6" and seen["HTTP_X_THING"] == "t"
    assert seen["body"] == "\xff body" and seen["function"] == "web-fn" and seen["fc.request_uri"] == "/a%20b/c?x=1&x=2"
    assert "HTTP_X_FC_OTHER" not in seen


def test_a_chunked_request_body_and_a_streamed_answer(server):
    pieces = [b"a" * 70_000, b"b" * 5, b"c" * 1]
    resp = requests.post(f"{server}/echo", data=iter(pieces), headers=WEB, timeout=10)  # chunked
    assert resp.json()["body"] == "".join(p.decode() for p in pieces)
    streamed = requests.get(f"{server}/stream", headers=WEB, timeout=10, stream=True)
    assert list(streamed.iter_lines()) == [b"piece 0", b"piece 1", b"piece 2"]
    assert requests.get(f"{server}/write", headers=WEB, timeout=10).text == "written returned"


def test_an_app_that_never_starts_the_response_is_a_502(server):
    resp = requests.get(f"{server}/no-start", headers=WEB, timeout=10)
    assert resp.status_code == 502 and "start_response" in resp.json()["errorMessage"]


def test_without_the_platforms_mark_the_control_paths_are_as_before(server):
    assert requests.get(f"{server}/", timeout=10).text == "OK"
    assert requests.put(f"{server}/x", timeout=10).status_code == 405


@pytest.mark.parametrize("framing", [b"zz\r\nab\r\n0\r\n\r\n", b"5\r\nab", b"ffffffffffffffffff\r\n",
                                     b"3;ext=1\r\nabc\r\n0\r\n\r\n"])
def test_hostile_chunk_framing_never_hangs_or_crashes_the_runtime(server, framing):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     + f"{wsgi.WEB_HEADER}: 1\r\n\r\n".encode() + framing)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith((b"HTTP/1.1 200", b"HTTP/1.1 502")), reply[:200]
    assert requests.get(f"{server}/x", headers=WEB, timeout=10).status_code == 200  # still serving


def test_start_response_refuses_what_is_not_a_status_or_a_header():
    call = wsgi.Call(lambda environ, start: [], {})
    for status in ("OK", "99 Low", "600 High", "2000 Long"):
        with pytest.raises(ValueError):
            call.start_response(status, [])
    for header in [("X-A", "1\r\nSet-Cookie: x"), ("X:B", "1"), ("X-C", 1)]:
        with pytest.raises(ValueError):
            call.start_response("200 OK", [header])


def test_environ_of_an_http_event():
    event = {"rawPath": "/p", "body": "aGk=", "isBase64Encoded": True, "headers": {"Content-Type": "text/plain"},
             "queryParameters": {"a": "1"}, "requestContext": {"http": {"method": "POST", "sourceIp": "10.0.0.1"}}}
    environ = wsgi.environ_of_event(event, context=None)
    assert environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/p" and environ["QUERY_STRING"] == "a=1"
    assert environ["wsgi.input"].read() == b"hi" and environ["CONTENT_LENGTH"] == "2"
    assert environ["REMOTE_ADDR"] == "10.0.0.1" and environ["CONTENT_TYPE"] == "text/plain"
    assert json.dumps(sorted(k for k in environ if k.startswith("HTTP_"))) == "[]"
