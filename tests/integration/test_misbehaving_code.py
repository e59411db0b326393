"""Whatever the user's code does, the caller gets an error it can read and the control plane stays up."""

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.redis]

CODE = """
import os, sys, time

def handler(event, context):
    kind = event.decode()
    if kind == "exit":
        sys.exit(3)
    if kind == "abort":
        os._exit(9)
    if kind == "hang":
        time.sleep(600)
    if kind == "oom":
        blocks = []
        while True:
            blocks.append(bytearray(16 * 1024 * 1024))
    if kind == "print":
        for _ in range(20):
            print("x" * (512 * 1024), flush=True)
        return "printed"
    if kind == "huge":
        return b"x" * (7 * 1024 * 1024)
    return "fine"
"""


@pytest.fixture
def bad_fn(api, fn_name):
    api.deploy(fn_name, {"index.py": CODE}, timeoutSeconds=2)
    return fn_name


@pytest.mark.parametrize("kind,error_type", [
    ("exit", "RuntimeExited"),
    ("abort", "RuntimeExited"),
    ("hang", "FunctionTimeout"),
    ("oom", "OutOfMemory"),
    ("huge", "ResponseTooLarge"),
])
def test_unhandled_errors_and_recovery(api, bad_fn, kind, error_type, docker_client):
    if kind != "hang":  # time enough to fail its own way on a loaded machine (filling 128 MB took 2 s once)
        api.update(bad_fn, timeoutSeconds=60)
    resp = api.invoke(bad_fn, kind)
    assert resp.status_code == 200
    assert resp.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert resp.json()["errorType"] == error_type, resp.text
    # The container that failed is gone, and the next invocation gets a fresh one.
    after = api.invoke(bad_fn, "ok")
    assert after.text == "fine"
    assert after.headers["X-Fc-Cold-Start"] == "true"
    assert after.headers["X-Fc-Instance-Id"] != resp.headers["X-Fc-Instance-Id"]
    assert api.request("GET", "/healthz").status_code == 200


def test_printing_megabytes(api, bad_fn):
    resp = api.invoke(bad_fn, "print")
    assert resp.status_code == 200 and resp.text == "printed"
    assert api.invoke(bad_fn, "ok").text == "fine"


def test_initializer_failure_is_unhandled_and_retried_on_a_new_container(api, fn_name):
    api.deploy(fn_name, {"index.py": "def init(c):\n    raise RuntimeError('no database')\n"
                                     "def handler(e, c):\n    return 'never'\n"}, initializer="index.init")
    first = api.invoke(fn_name)
    assert first.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert first.json()["errorType"] == "RuntimeError" and first.json()["errorMessage"] == "no database"
    second = api.invoke(fn_name)
    assert second.headers["X-Fc-Cold-Start"] == "true"
    assert second.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


def test_initializer_past_its_timeout(api, fn_name):
    api.deploy(fn_name, {"index.py": "import time\ndef init(c):\n    time.sleep(30)\n"
                                     "def handler(e, c):\n    return 'never'\n"},
               initializer="index.init", initializationTimeoutSeconds=1)
    resp = api.invoke(fn_name)
    assert resp.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert resp.json()["errorType"] == "InitializationTimeout"


@pytest.mark.parametrize("source,error_type", [
    ("def other(e, c): pass\n", "HandlerNotFound"),
    ("import not_installed_anywhere\ndef handler(e, c): pass\n", "ImportModuleError"),
])
def test_loading_errors_have_distinct_types(api, fn_name, source, error_type):
    api.deploy(fn_name, {"index.py": source})
    resp = api.invoke(fn_name)
    assert resp.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert resp.json()["errorType"] == error_type
