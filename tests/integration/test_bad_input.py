"""Bad input gets 4xx with the JSON error shape; nothing about it reaches Docker."""

import base64
import io
import json
import socket
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import code_b64, make_zip, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

OK_CODE = {"index.py": "def handler(e, c):\n    return 'ok'\n"}


def assert_error(resp, status, code, match=""):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    error = resp.json()["error"]
    assert error["code"] == code and match in error["message"], error
    return error


def zip_with_entry(name: str, data: bytes = b"x", mode: int | None = None) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", "def handler(e, c): pass\n")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return base64.b64encode(buf.getvalue()).decode()


def test_malformed_json(api):
    assert_error(api.request("POST", "/v1/functions", data=b"{nope"), 400, "InvalidArgument", "JSON")
    assert_error(api.request("POST", "/v1/functions", data=b"\xff\xfe"), 400, "InvalidArgument")
    assert_error(api.request("POST", "/v1/functions", json=[1, 2]), 400, "InvalidArgument")


@pytest.mark.parametrize("body,match", [
    ({"name": "Bad_Name"}, "name"),
    ({"name": "ok", "runtime": "nodejs"}, "runtime"),
    ({"name": "ok", "handler": "nodot"}, "module.function"),
    ({"name": "ok", "memoryMB": 1 << 20}, "memoryMB"),
    ({"name": "ok", "timeoutSeconds": 0}, "timeoutSeconds"),
    ({"name": "ok", "maxInstances": 0}, "maxInstances"),
    ({"name": "ok", "unknownField": 1}, "unknownField"),
])
def test_bad_spec(api, body, match):
    body = body | {"code": {"zipFile": code_b64(OK_CODE)}}
    assert_error(api.request("POST", "/v1/functions", json=body), 400, "InvalidArgument", match)


@pytest.mark.parametrize("code,match", [
    (None, "required"),
    ({"zipFile": "%%%not-base64%%%"}, "base64"),
    ({"zipFile": base64.b64encode(b"this is no zip").decode()}, "zip"),
    ({"zipFile": zip_with_entry("/etc/evil")}, "absolute"),
    ({"zipFile": zip_with_entry("../evil.py")}, ".."),
    ({"zipFile": zip_with_entry("lib/../../evil.py")}, ".."),
    ({"zipFile": zip_with_entry("link", b"/etc/shadow", 0o120777)}, "symbolic link"),
    ({"zipFile": code_b64({"main.py": "x = 1\n"})}, "index.py"),
    ({"zipFile": code_b64(OK_CODE), "extra": 1}, "zipFile"),
])
def test_bad_code(api, fn_name, code, match):
    body = {"name": fn_name}
    if code is not None:
        body["code"] = code
    assert_error(api.request("POST", "/v1/functions", json=body), 400, "InvalidArgument", match)
    assert api.request("GET", f"/v1/functions/{fn_name}").status_code == 404


def test_zip_over_50_mb(api, fn_name):
    raw = make_zip({"index.py": "x = 1\n"}) + b"\0" * (50 * 1024 * 1024)
    body = {"name": fn_name, "code": {"zipFile": base64.b64encode(raw).decode()}}
    assert_error(api.request("POST", "/v1/functions", json=body), 413, "PayloadTooLarge")


def test_unknown_function(api):
    assert_error(api.request("GET", "/v1/functions/nobody-here"), 404, "FunctionNotFound")
    assert_error(api.invoke("nobody-here", b"x"), 404, "FunctionNotFound")
    assert_error(api.update("nobody-here", timeoutSeconds=5), 404, "FunctionNotFound")
    assert_error(api.delete("nobody-here"), 404, "FunctionNotFound")
    assert_error(api.request("GET", "/v1/functions/BAD_NAME"), 400, "InvalidArgument")


def test_duplicate(api, fn_name):
    api.deploy(fn_name, OK_CODE)
    assert_error(api.create(fn_name, OK_CODE), 409, "FunctionAlreadyExists")


def test_event_over_6_mb(api, fn_name):
    api.deploy(fn_name, OK_CODE)
    assert_error(api.invoke(fn_name, b"x" * (6 * 1024 * 1024 + 1)), 413, "PayloadTooLarge")
    assert api.invoke(fn_name, b"x" * (6 * 1024 * 1024)).text == "ok"


def test_bad_invocation_type(api, fn_name):
    api.deploy(fn_name, OK_CODE)
    assert_error(api.invoke(fn_name, b"", {"X-Fc-Invocation-Type": "Later"}), 400, "InvalidArgument")


def test_bad_update(api, fn_name):
    api.deploy(fn_name, OK_CODE)
    assert_error(api.request("PUT", f"/v1/functions/{fn_name}", json={"name": "other"}), 400, "InvalidArgument", "name")
    assert_error(api.update(fn_name, memoryMB=1), 400, "InvalidArgument", "memoryMB")
    assert_error(api.request("PUT", f"/v1/functions/{fn_name}", data=b"nope"), 400, "InvalidArgument")
    assert api.request("GET", f"/v1/functions/{fn_name}").json()["revision"] == 1


def test_unknown_route_and_method(api):
    assert_error(api.request("GET", "/v2/nothing"), 404, "NotFound")
    not_allowed = api.request("PATCH", "/v1/functions")
    assert_error(not_allowed, 405, "MethodNotAllowed")
    assert {"GET", "POST"} <= set(not_allowed.headers["Allow"].split(",")) <= {"GET", "HEAD", "POST"}


@pytest.mark.parametrize("query", ["after=", "after=1-x", "after=18446744073709551616-0", "count=0", "count=x"])
def test_bad_queue_reads(api, query):
    """Found by schemathesis: an id beyond Redis' 64-bit range was a 500."""
    assert_error(api.request("GET", f"/v1/queues/some-queue/messages?{query}"), 400, "InvalidArgument")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=5%0A", "limit=%EF%BC%95", "limit=" + "9" * 400,
                                   "limit=1e2", "prefix=Bad", "prefix=a%0A", "prefix=-a", "prefix=" + "a" * 64,
                                   "nextToken=x%0A", "nextToken=9bad", "nextToken="])
def test_bad_function_list_pages(api, query):
    resp = api.request("GET", f"/v1/functions?{query}")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", (query, resp.text)


@pytest.mark.parametrize("query", ["follow=maybe", "tail=-1", "tail=x"])
def test_bad_log_reads(api, fn_name, query):
    api.deploy(fn_name, OK_CODE)
    assert_error(api.request("GET", f"/v1/functions/{fn_name}/logs?{query}"), 400, "InvalidArgument")


@pytest.mark.parametrize("attempt", ["0", "x", "\u0663", "100001"])
def test_bad_attempt_header(api, fn_name, attempt):
    api.deploy(fn_name, OK_CODE)
    resp = api.invoke(fn_name, b"", {"X-Fc-Attempt": attempt.encode()})
    assert_error(resp, 400, "InvalidArgument", "X-Fc-Attempt")


@pytest.mark.parametrize("field,value", [
    ("name", "nl\n"), ("handler", "index.handler\n"), ("initializer", "index.handler\n"),
    ("runtime", "python3.11\n"), ("environment", {"A\n": "x"}), ("async", {"onFailure": "queue:x\n"}),
    ("async", {"onSuccess": "function:f\n"}),
])
def test_a_trailing_newline_is_refused_in_every_field(api, fn_name, field, value):
    """`$` matches before a final newline; every check matches the whole value."""
    body = {"name": fn_name, "code": {"zipFile": code_b64(OK_CODE)}, field: value}
    assert_error(api.request("POST", "/v1/functions", json=body), 400, "InvalidArgument")
    api.deploy(fn_name, OK_CODE)
    if field != "name":
        assert_error(api.request("PUT", f"/v1/functions/{fn_name}", json={field: value}), 400, "InvalidArgument")


@pytest.mark.parametrize("path", ["/v1/functions/nl%0A", "/v1/functions/nl%0A/invocations",
                                  "/v1/invocations/abc%0A", "/v1/queues/q%0A/messages",
                                  "/v1/queues/q/messages?after=1-0%0A"])
def test_a_trailing_newline_in_the_path_or_query_is_refused(api, path):
    method = "POST" if path.endswith("invocations") else "GET"
    assert_error(api.request(method, path), 400, "InvalidArgument")


@pytest.mark.parametrize("path", ["/v1/functions", "/v1/tokens"])
def test_json_nested_too_deeply_is_a_400(api, path):
    assert_error(api.request("POST", path, data=b"[" * 100000 + b"]" * 100000), 400, "InvalidArgument", "nested")


@pytest.mark.parametrize("raw,status", [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 400),
    (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"NOT-HTTP\r\n\r\n", 400),
])
def test_requests_the_http_parser_refuses_get_the_json_error_shape(platform, raw, status):
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode() and b"application/json" in head.lower(), head
    assert json.loads(body)["error"]["code"] in ("InvalidArgument", "PayloadTooLarge")


def test_silent_connections_are_closed(start_platform):
    """A client that connects and sends nothing (or half a request) is cut off after FAAS_KEEPALIVE_TIMEOUT."""
    platform = start_platform(FAAS_KEEPALIVE_TIMEOUT="1")
    # recv waits for the close: the socket's timeout (far above the 1 s) bounds it.
    socks = [socket.create_connection(("127.0.0.1", platform.port), timeout=30) for _ in range(50)]
    socks[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    for sock in socks:
        assert sock.recv(100) == b""  # closed by the server
        sock.close()
    assert platform.api.request("GET", "/healthz").status_code == 200


def test_a_result_json_cannot_hold_is_an_error(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return {'x': float('nan')}\n"})
    resp = api.invoke(fn_name)
    assert resp.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert resp.json()["errorType"] == "ResponseSerializationError"


def test_the_same_request_id_twice_at_once_is_a_409(api, fn_name):
    api.deploy(fn_name, {"index.py": "import time\ndef handler(e, c):\n    time.sleep(1.5)\n    return 'done'\n"},
               maxInstances=2)
    headers = {"X-Fc-Request-Id": "my-own-id-" + fn_name}
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(api.invoke, fn_name, b"", headers)
        # Busy: its id taken (before its container), for the 1.5 s the handler sleeps at least.
        wait_for(lambda: any(i["state"] == "Busy" for i in
                             api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]),
                 timeout=60, interval=0.05, what="the first call to run")
        second = pool.submit(api.invoke, fn_name, b"", headers)
        assert_error(second.result(), 409, "RequestIdInUse")
        assert first.result().text == "done"
    assert api.invoke(fn_name, b"", headers).text == "done"  # free again once the first has ended


def test_a_deleted_then_recreated_function_runs_its_new_code(api, fn_name):
    """Caches and containers belong to one function, not to a name: version 1 of the new one is new."""
    api.deploy(fn_name, {"index.py": "def a(e, c):\n    return 'a'\n"}, handler="index.a")
    assert api.invoke(fn_name).text == "a"
    assert api.delete(fn_name).status_code == 204
    api.deploy(fn_name, {"index.py": "def a(e, c):\n    return 'a'\ndef b(e, c):\n    return 'b'\n"},
               handler="index.b", memoryMB=256)
    resp = api.invoke(fn_name)
    assert resp.text == "b" and resp.headers["X-Fc-Cold-Start"] == "true"


def _peak_rss_kb(pid: int) -> int:
    status = open(f"/proc/{pid}/status").read()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def test_a_zip_bomb_costs_the_control_plane_no_memory(api, fn_name, platform):
    """A 200 KB zip that unpacks to 200 MB is unpacked by a child process, streamed to disk: the control
    plane's peak memory does not grow with it, and it keeps answering meanwhile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.py", OK_CODE["index.py"])
        with zf.open("zeros.bin", "w", force_zip64=True) as out:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                out.write(chunk)
    assert len(buf.getvalue()) < 400_000
    api.deploy(fn_name + "-w", OK_CODE)
    assert api.invoke(fn_name + "-w").text == "ok"
    before = _peak_rss_kb(platform.proc.pid)
    answers = []
    with ThreadPoolExecutor(1) as pool:
        creating = pool.submit(api.request, "POST", "/v1/functions",
                               json={"name": fn_name, "code": {"zipFile": base64.b64encode(buf.getvalue()).decode()}})
        while not creating.done():
            answers.append(api.invoke(fn_name + "-w").text)
            time.sleep(0.05)
        assert creating.result().status_code == 201, creating.result().text
    assert api.invoke(fn_name).text == "ok"
    grown_mb = (_peak_rss_kb(platform.proc.pid) - before) / 1024
    assert grown_mb < 50, f"the control plane's peak memory grew by {grown_mb:.0f} MB"
    assert answers and set(answers) == {"ok"}


@pytest.mark.parametrize("request_id", ["init-abc", "adopt-1", "a" * 65, "has space", "ünï"])
def test_request_ids_the_caller_may_not_choose(api, fn_name, request_id):
    """init- and adopt- are the platform's own calls (a container's initializer): a caller cannot take them."""
    api.deploy(fn_name, OK_CODE)
    resp = api.invoke(fn_name, b"", {"X-Fc-Request-Id": request_id.encode()})
    assert_error(resp, 400, "InvalidArgument", "X-Fc-Request-Id")
