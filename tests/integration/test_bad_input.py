"""Bad input gets 4xx with the JSON error shape; nothing about it reaches Docker."""

import base64
import io
import zipfile

import pytest

from helpers import code_b64, make_zip

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
    assert api.request("GET", f"/v1/functions/{fn_name}").json()["version"] == 1


def test_unknown_route_and_method(api):
    assert_error(api.request("GET", "/v2/nothing"), 404, "NotFound")
    not_allowed = api.request("PATCH", "/v1/functions")
    assert_error(not_allowed, 405, "MethodNotAllowed")
    assert {"GET", "POST"} <= set(not_allowed.headers["Allow"].split(",")) <= {"GET", "HEAD", "POST"}


@pytest.mark.parametrize("query", ["after=", "after=1-x", "after=18446744073709551616-0", "count=0", "count=x"])
def test_bad_queue_reads(api, query):
    """Found by schemathesis: an id beyond Redis' 64-bit range was a 500."""
    assert_error(api.request("GET", f"/v1/queues/some-queue/messages?{query}"), 400, "InvalidArgument")


@pytest.mark.parametrize("query", ["follow=maybe", "tail=-1", "tail=x"])
def test_bad_log_reads(api, fn_name, query):
    api.deploy(fn_name, OK_CODE)
    assert_error(api.request("GET", f"/v1/functions/{fn_name}/logs?{query}"), 400, "InvalidArgument")


@pytest.mark.parametrize("attempt", ["0", "x", "\u0663", "100001"])
def test_bad_attempt_header(api, fn_name, attempt):
    api.deploy(fn_name, OK_CODE)
    resp = api.invoke(fn_name, b"", {"X-Fc-Attempt": attempt.encode()})
    assert_error(resp, 400, "InvalidArgument", "X-Fc-Attempt")
