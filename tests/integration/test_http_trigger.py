"""HTTP triggers with real containers: FC 3.0's HTTP event and response mapping for Python functions, web
functions (custom containers) proxied as they are, auth, methods, limits and hostile requests."""

import base64
import json
import re
import threading

import pytest
import requests

from helpers import build_server_image, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

EVENT_ECHO = """
import json, logging
def handler(event, context):
    e = json.loads(event)
    logging.getLogger().info("root logger line %s", e["rawPath"])
    path = e["rawPath"]
    if path == "/status":
        return {"statusCode": 418, "headers": {"X-Tea": "pot", "Set-Cookie": ["a=1", "b=2"]}, "body": "short"}
    if path == "/binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "AAEC/w==",
                "isBase64Encoded": True}
    if path == "/plain":
        return "just text"
    if path == "/raise":
        raise ValueError("bad request body")
    if path == "/inject":
        return {"statusCode": 200, "headers": {"X-A": "1\\r\\nSet-Cookie: evil=1"}, "body": "x"}
    return e
"""


def url(platform, name, path=""):
    return f"{platform.url}/function/{name}{path}"


def add_trigger(api, name, trigger="web", **config):
    resp = api.request("POST", f"/v1/functions/{name}/triggers",
                       json={"triggerName": trigger, "triggerType": "http", "triggerConfig": config})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def echo_fn(api, platform, fn_name):
    api.deploy(fn_name, {"index.py": EVENT_ECHO})
    add_trigger(api, fn_name, authType="anonymous")
    return fn_name


def test_every_http_event_field(platform, echo_fn):
    resp = requests.post(url(platform, echo_fn, "/a%20b/c?x=1&x=2&empty=&enc=%2F"), data=b"hello",
                         headers={"X-Fc-Request-Id": "forged", "X-Fc-Function-Name": "other",
                                  "Content-Type": "text/plain", "User-Agent": "tester/1", "X-Custom": "v"})
    assert resp.status_code == 200, resp.text
    event = resp.json()
    assert event["version"] == "v1" and event["rawPath"] == "/a%20b/c"
    assert event["body"] == "hello" and event["isBase64Encoded"] is False
    assert event["queryParameters"] == {"x": "1,2", "empty": "", "enc": "/"}
    headers = event["headers"]
    assert headers["Content-Type"] == "text/plain" and headers["X-Custom"] == "v"
    assert headers["User-Agent"] == "tester/1"
    assert not any(k.lower().startswith("x-fc-") for k in headers)  # clients cannot set the platform's headers
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/a b/c", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                           "userAgent": "tester/1"}
    assert ctx["requestId"] == resp.headers["X-Fc-Request-Id"] != "forged"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ctx["time"]) and ctx["timeEpoch"].isdigit()
    assert ctx["domainName"] == f"127.0.0.1:{platform.port}"
    root = requests.get(url(platform, echo_fn)).json()
    assert root["rawPath"] == "/" and root["requestContext"]["http"]["method"] == "GET" and root["body"] == ""


def test_repeated_headers_are_joined(platform, echo_fn):
    # requests cannot repeat a header: a raw request can
    import socket

    with socket.create_connection(("127.0.0.1", platform.port)) as sock:
        sock.sendall(f"GET /function/{echo_fn}/r HTTP/1.1\r\nHost: x\r\nX-Multi: a\r\nX-Multi: b\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:500]
    assert json.loads(body)["headers"]["X-Multi"] == "a,b"


def test_binary_body_is_base64(platform, echo_fn):
    raw = bytes(range(256))
    event = requests.put(url(platform, echo_fn, "/bin"), data=raw).json()
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw


def test_result_becomes_the_response(platform, echo_fn):
    status = requests.get(url(platform, echo_fn, "/status"))
    assert status.status_code == 418 and status.text == "short" and status.headers["X-Tea"] == "pot"
    assert status.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    binary = requests.get(url(platform, echo_fn, "/binary"))
    assert binary.content == b"\x00\x01\x02\xff" and binary.headers["Content-Type"] == "image/png"
    plain = requests.get(url(platform, echo_fn, "/plain"))
    assert plain.status_code == 200 and plain.text == "just text" and plain.headers["Content-Type"].startswith("text/")


def test_function_error_is_a_502(platform, echo_fn):
    resp = requests.get(url(platform, echo_fn, "/raise"))
    assert resp.status_code == 502 and resp.headers["X-Fc-Error-Type"] == "HandledInvocationError"
    assert resp.json()["errorType"] == "ValueError"


def test_header_injection_by_the_function_is_refused(platform, echo_fn):
    resp = requests.get(url(platform, echo_fn, "/inject"))
    assert resp.status_code == 502 and "evil" not in resp.headers.get("Set-Cookie", "")
    assert resp.json()["errorType"] == "InvalidHttpResponse"


def test_root_logger_lines_in_tail_and_log(api, platform, echo_fn):
    resp = requests.get(url(platform, echo_fn, "/logged"))
    rid = resp.headers["X-Fc-Request-Id"]
    logs = wait_for(lambda: (r := api.request("GET", f"/v1/invocations/{rid}/logs")).status_code == 200
                    and "REPORT" in r.text and r.text, timeout=30, what="the invocation's log")
    assert "[INFO] root logger line /logged" in logs and "Trigger: http/web" in logs
    # and through the invoke API, in the Tail the answer carries
    tail = api.invoke(echo_fn, json.dumps({"rawPath": "/tail"}), {"X-Fc-Log-Type": "Tail"})
    text = base64.b64decode(tail.headers["X-Fc-Log-Result"]).decode()
    assert "[INFO] root logger line /tail" in text and "REPORT RequestId" in text


def test_auth_methods_and_missing_trigger(api, platform, fn_name):
    api.deploy(fn_name, {"index.py": EVENT_ECHO})
    assert requests.get(url(platform, fn_name)).status_code == 404  # no HTTP trigger yet
    assert requests.get(url(platform, fn_name)).json()["error"]["code"] == "TriggerNotFound"
    assert requests.get(url(platform, "no-such-function-here")).status_code == 404
    add_trigger(api, fn_name, methods=["GET", "POST"])  # authType function by default
    anonymous = requests.get(url(platform, fn_name))
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "Unauthorized"
    assert requests.get(url(platform, fn_name), headers={"Authorization": "Bearer wrong"}).status_code == 401
    invoker = api.request("POST", "/v1/tokens", json={"role": "invoke", "name": "web"}).json()["token"]
    ok = requests.get(url(platform, fn_name), headers={"Authorization": f"Bearer {invoker}"})
    assert ok.status_code == 200
    assert "Authorization" not in ok.json()["headers"]  # the platform's token never reaches the function
    put = requests.put(url(platform, fn_name), headers={"Authorization": f"Bearer {invoker}"})
    assert put.status_code == 405 and put.headers["Allow"] == "GET, POST"
    assert put.json()["error"]["code"] == "MethodNotAllowed"


def test_async_through_the_trigger(api, platform, async_stack, fn_name):
    plat = async_stack[0]
    plat.api.deploy(fn_name, {"index.py": EVENT_ECHO})
    add_trigger(plat.api, fn_name, authType="anonymous")
    resp = requests.post(url(plat, fn_name, "/later"), data=b"x", headers={"X-Fc-Invocation-Type": "Async"})
    assert resp.status_code == 202, resp.text
    rid = resp.json()["requestId"]

    def ended():
        body = plat.api.request("GET", f"/v1/invocations/{rid}").json()
        return body if body["status"] in ("succeeded", "failed") else None

    record = wait_for(ended, timeout=60, what="the async trigger invocation")
    assert record["status"] == "succeeded" and record["trigger"] == {"triggerType": "http", "triggerName": "web"}
    assert json.loads(record["result"])["rawPath"] == "/later"


def test_hostile_requests(api, platform, echo_fn):
    big_header = requests.get(url(platform, echo_fn), headers={"X-Big": "x" * 9000})
    assert big_header.status_code in (400, 431) and "error" in big_header.json()
    long_url = requests.get(url(platform, echo_fn, "/" + "p" * 4100))
    assert long_url.status_code == 400 and long_url.json()["error"]["code"] == "InvalidArgument"
    body = requests.post(url(platform, echo_fn), data=b"x" * (6 * 1024 * 1024 + 1))
    assert body.status_code == 413 and body.json()["error"]["code"] == "PayloadTooLarge"
    assert requests.get(url(platform, "Bad_Name")).status_code == 400
    assert requests.get(url(platform, "fn\n")).status_code in (400, 404)
    bad_type = requests.get(url(platform, echo_fn), headers={"X-Fc-Invocation-Type": "Later"})
    assert bad_type.status_code == 400
    # the platform still serves
    assert requests.get(url(platform, echo_fn)).status_code == 200


def test_trigger_resource(api, fn_name):
    api.deploy(fn_name, {"index.py": EVENT_ECHO})
    base = f"/v1/functions/{fn_name}/triggers"
    assert api.request("GET", base).json() == {"triggers": []}
    created = api.request("POST", base, json={"triggerName": "t1", "triggerType": "http",
                                              "triggerConfig": json.dumps({"authType": "anonymous"}),
                                              "description": "from a JSON string"})
    assert created.status_code == 201 and created.json()["triggerConfig"]["authType"] == "anonymous"
    assert created.headers["Location"] == f"{base}/t1"
    again = api.request("POST", base, json={"triggerName": "t1", "triggerType": "http"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "TriggerAlreadyExists"
    for i in range(2, 11):
        assert api.request("POST", base, json={"triggerName": f"t{i}", "triggerType": "timer",
                                               "triggerConfig": {"cronExpression": "@every 1h",
                                                                 "enable": False}}).status_code == 201
    eleventh = api.request("POST", base, json={"triggerName": "t11", "triggerType": "http"})
    assert eleventh.status_code == 409 and eleventh.json()["error"]["code"] == "TriggerLimitExceeded"
    bad = api.request("POST", base, json={"triggerName": "t\n", "triggerType": "http"})
    assert bad.status_code == 400 and "triggerName" in bad.json()["error"]["message"]
    bad_cron = api.request("PUT", f"{base}/t2", json={"triggerConfig": {"cronExpression": "0 0 8 * *"}})
    assert bad_cron.status_code == 400 and "cronExpression" in bad_cron.json()["error"]["message"]
    changed = api.request("PUT", f"{base}/t1", json={"triggerConfig": {"methods": ["GET"]}})
    assert changed.status_code == 200 and changed.json()["triggerConfig"] == {"authType": "function",
                                                                              "methods": ["GET"]}
    assert api.request("GET", f"{base}/t1").json()["triggerConfig"]["methods"] == ["GET"]
    assert api.request("GET", f"{base}/nope").status_code == 404
    for forged in ("t1%0A", "t1%00", "9t", "t" * 129):  # a trailing newline, NUL, bad start, too long
        resp = api.request("GET", f"{base}/{forged}")
        assert resp.status_code == 400 and "triggerName" in resp.json()["error"]["message"], forged
        assert api.request("DELETE", f"{base}/{forged}").status_code == 400
    assert api.request("DELETE", f"{base}/t1").status_code == 204
    assert api.request("DELETE", f"{base}/t1").status_code == 404
    assert len(api.request("GET", base).json()["triggers"]) == 9
    assert api.request("GET", "/v1/functions/no-such-fn/triggers").status_code == 404
    too_big = api.request("POST", base, data=b"{" + b" " * 300000 + b"}")
    assert too_big.status_code == 413
    # deleting the function deletes its triggers: made again, it has none
    assert api.delete(fn_name).status_code == 204
    api.deploy(fn_name, {"index.py": EVENT_ECHO})
    assert api.request("GET", base).json() == {"triggers": []}


WEB_SERVER = r'''
import json, os, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RELEASE = threading.Event()
CALLS = {"initialize": 0}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path.startswith("/hello"):
            doc = {"path": self.path, "initialized": CALLS["initialize"],
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            return self.send(200, json.dumps(doc).encode(), extra=[("X-Web", "1"), ("Set-Cookie", "a=1"),
                                                                   ("Set-Cookie", "b=2")])
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first\n", None, b"second\n"):
                if part is None:
                    RELEASE.wait(60)
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/release":
            RELEASE.set()
            return self.send(200, b"released", "text/plain")
        self.send(404, b"no such route", "text/plain")

    def do_POST(self):
        data = self.body()
        if self.path == "/initialize":
            CALLS["initialize"] += 1
            return self.send(200, b"")
        if self.path == "/invoke":
            return self.send(200, b"invoked:" + data, "text/plain")
        if self.path.startswith("/echo"):
            return self.send(201, data[::-1], "application/octet-stream", extra=[("X-Len", str(len(data)))])
        self.send(404, b"no such route", "text/plain")


ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FC_SERVER_PORT", "9000"))), H).serve_forever()
'''


@pytest.fixture(scope="module")
def web_image(docker_client, platform):
    tag = build_server_image(docker_client, f"faas-test-web-{platform.platform_id}:1", WEB_SERVER)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_web_function_is_proxied_as_it_is(api, platform, web_image, fn_name):
    """A custom container that serves its own routes (and no /initialize): requests reach it unchanged."""
    api.deploy(fn_name, None, runtime="custom-container", customContainer={"image": web_image},
               instanceConcurrency=4, maxInstances=1)
    add_trigger(api, fn_name, authType="anonymous")
    forged = {"X-Fc-Evil": "e", "x_fc_request_id": "forged", "X_Fc_Function_Name": "other", "X-Faas-Trigger": "t",
              "x_faas_node_token": "t"}
    hello = requests.get(url(platform, fn_name, "/hello/x?q=1&q=2"), headers={"X-Custom": "c"} | forged)
    assert hello.status_code == 200, hello.text
    doc = hello.json()
    assert doc["path"] == "/hello/x?q=1&q=2" and doc["headers"]["x-custom"] == "c"
    assert doc["headers"]["x-fc-request-id"] == hello.headers["X-Fc-Request-Id"]  # the platform's, not the client's
    assert not {name.lower() for name in forged} & set(doc["headers"]), doc["headers"]  # '_' spellings too
    assert doc["headers"]["x-fc-function-name"] == fn_name
    assert doc["initialized"] == 0  # no initializer configured: /initialize is never called
    assert hello.headers["X-Web"] == "1" and hello.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    raw = bytes(range(256)) * 1000
    echo = requests.post(url(platform, fn_name, "/echo"), data=raw)
    assert echo.status_code == 201 and echo.content == raw[::-1] and echo.headers["X-Len"] == str(len(raw))
    chunked = requests.post(url(platform, fn_name, "/echo"), data=iter([b"ab", b"cd"]))
    assert chunked.status_code == 201 and chunked.content == b"dcba"
    missing = requests.get(url(platform, fn_name, "/nothing"))
    assert missing.status_code == 404 and missing.text == "no such route"
    # The invoke API works on the same container, which serves /invoke but not /initialize.
    assert api.invoke(fn_name, b"x").content == b"invoked:x"


def test_web_function_streams_both_ways(api, platform, web_image, fn_name):
    api.deploy(fn_name, None, runtime="custom-container", customContainer={"image": web_image},
               instanceConcurrency=4, maxInstances=1)
    add_trigger(api, fn_name, authType="anonymous")
    with requests.get(url(platform, fn_name, "/stream"), stream=True, timeout=30) as resp:
        lines = resp.iter_lines()
        # The container holds "second" back until /release: a proxy that buffered would never give "first".
        assert next(lines) == b"first"
        threading.Thread(target=requests.get, args=(url(platform, fn_name, "/release"),), daemon=True).start()
        assert next(lines) == b"second"


def test_custom_container_initializer_is_a_flag_and_memory_is_reported(api, platform, web_image, fn_name):
    api.deploy(fn_name, None, runtime="custom-container", customContainer={"image": web_image},
               initializer="true")
    add_trigger(api, fn_name, authType="anonymous")
    resp = requests.get(url(platform, fn_name, "/hello"))
    assert resp.json()["initialized"] == 1
    rid = resp.headers["X-Fc-Request-Id"]

    def report():
        text = api.request("GET", f"/v1/functions/{fn_name}/logs").text
        return next((line for line in text.splitlines() if f"REPORT RequestId: {rid}" in line), None)

    line = wait_for(report, timeout=30, what="the web function's REPORT line")
    assert re.search(r"Max Memory Used: \d+ MB", line) and "Trigger: http/web" in line
    bad = api.update(fn_name, initializer="x" * 200)
    assert bad.status_code == 400 and "initializer" in bad.json()["error"]["message"]


def test_web_function_body_limit_and_forged_trigger_labels(api, platform, web_image, fn_name):
    api.deploy(fn_name, None, runtime="custom-container", customContainer={"image": web_image})
    add_trigger(api, fn_name, authType="anonymous")

    def chunks():  # chunked: no Content-Length to refuse early, the limit is counted as it comes
        for _ in range(7):
            yield b"x" * (1024 * 1024)

    big = requests.post(url(platform, fn_name, "/echo"), data=chunks())
    assert big.status_code == 413 and big.json()["error"]["code"] == "PayloadTooLarge"
    declared = requests.post(url(platform, fn_name, "/echo"), data=b"x" * (6 * 1024 * 1024 + 1))
    assert declared.status_code == 413
    assert requests.post(url(platform, fn_name, "/echo"), data=b"still here").content == b"ereh llits"
    # The trigger label an invocation's REPORT line shows is checked like every other header
    for forged in ("cron/x", "timer/", "timer/a b", "timer/" + "x" * 200, "http/web/../x"):
        for kind in ("Sync", "Async"):  # an async invocation checks every header too
            resp = api.invoke(fn_name, b"x", {"X-Faas-Trigger": forged, "X-Fc-Invocation-Type": kind})
            assert resp.status_code == 400 and "X-Faas-Trigger" in resp.json()["error"]["message"], forged
    for header, value in (("X-Fc-Attempt", "!!Ok)W"), ("X-Fc-Request-Id", "init-x"), ("X-Fc-Request-Id", "a b")):
        resp = api.invoke(fn_name, b"x", {header: value, "X-Fc-Invocation-Type": "Async"})
        assert resp.status_code == 400 and header in resp.json()["error"]["message"], (header, value)
