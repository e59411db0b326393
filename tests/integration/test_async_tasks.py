"""Async invocations as tasks: ids their callers choose (accepted once), stops in each state an event can be in,
and listings in pages, with real Redis, real workers and real containers."""

import base64
import json

import pytest
import requests

from conftest import FAST, PlatformProcess, WorkerProcess, _clean_up
from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

SLEEP_THEN = ("import time\n"
              "def handler(event, context):\n"
              "    time.sleep(4)\n"
              "    if event == b'fail':\n"
              "        raise ValueError('asked to fail')\n"
              "    return event\n")
FAIL = "def handler(event, context):\n    raise ValueError('always')\n"


@pytest.fixture(scope="module")
def stack(docker_client, redis_server, tmp_path_factory):
    """A platform whose function errors wait a minute before their retry (so that a test finds an event
    retrying), with two worker processes."""
    plat = PlatformProcess(redis_server, tmp_path_factory.mktemp("tasks") / "server.log",
                           **FAST | {"FAAS_FUNCTION_RETRY_BASE": "60", "FAAS_QUEUE_TIMEOUT": "30"})
    plat.start()
    workers = WorkerProcess(plat)
    workers.start()
    yield plat, workers
    workers.stop()
    assert not _clean_up(docker_client, plat)


@pytest.fixture
def api(stack):
    return stack[0].api


def submit(api, name, event=b"", **headers):
    resp = api.invoke(name, event, {"X-Fc-Invocation-Type": "Async", **headers})
    assert resp.status_code == 202, resp.text
    return resp.json()["requestId"]


def record(api, request_id):
    resp = api.request("GET", f"/v1/invocations/{request_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def stop(api, request_id, status=200):
    resp = api.request("POST", f"/v1/invocations/{request_id}/stop")
    assert resp.status_code == status, resp.text
    return resp.json()


def wait_status(api, request_id, wanted, timeout=60):
    return wait_for(lambda: (r := record(api, request_id))["status"] == wanted and r, timeout=timeout,
                    what=f"{request_id} to be {wanted}")


def destination_records(api, queue, request_id):
    resp = api.request("GET", f"/v1/queues/{queue}/messages", params={"count": 1000})
    assert resp.status_code == 200, resp.text
    return [m for m in resp.json()["messages"] if m["record"]["requestContext"]["requestId"] == request_id]


def test_a_queued_invocation_stopped_never_runs(api, stack, fn_name):
    _, workers = stack
    api.deploy(fn_name, {"index.py": SLEEP_THEN}, **{"async": {"onFailure": f"queue:{fn_name}-failed"}})
    workers.stop()  # nothing takes it: it stays queued
    try:
        rid = submit(api, fn_name, b"never")
        assert record(api, rid)["status"] == "queued"
        assert stop(api, rid)["status"] == "stopping"
        listed = api.request("GET", f"/v1/functions/{fn_name}/invocations", params={"status": "stopping"}).json()
        assert [i["requestId"] for i in listed["invocations"]] == [rid]
    finally:
        workers.start()
    ended = wait_status(api, rid, "stopped")
    assert ended["attempts"] == 0 and ended["condition"] == "Stopped" and ended["destination"] is None
    assert destination_records(api, f"{fn_name}-failed", rid) == []
    assert stop(api, rid)["status"] == "stopped"  # again: no error, no change


def test_a_retrying_invocation_stopped_ends_at_once(api, fn_name):
    api.deploy(fn_name, {"index.py": FAIL}, **{"async": {"retries": 2, "onFailure": f"queue:{fn_name}-failed"}})
    rid = submit(api, fn_name)
    waiting = wait_status(api, rid, "retrying")
    assert waiting["attempts"] == 1 and waiting["nextAttemptAt"] is not None
    stop(api, rid)
    # Its retry was due a minute later: ended well before, it was the stop that ended it.
    ended = wait_status(api, rid, "stopped", timeout=30)
    assert ended["attempts"] == 1 and ended["nextAttemptAt"] is None
    assert ended["lastError"]["errorMessage"] == "always"
    assert destination_records(api, f"{fn_name}-failed", rid) == []


def test_a_running_invocation_stopped_is_not_retried_but_a_success_stands(api, fn_name):
    api.deploy(fn_name, {"index.py": SLEEP_THEN}, **{"async": {"retries": 2, "onFailure": f"queue:{fn_name}-failed",
                                                               "onSuccess": f"queue:{fn_name}-ok"}})
    failing, passing = submit(api, fn_name, b"fail"), submit(api, fn_name, b"fine")
    for rid in (failing, passing):
        wait_status(api, rid, "running")
        assert stop(api, rid)["status"] == "stopping"
    ended = wait_status(api, failing, "stopped")
    assert ended["attempts"] == 1 and ended["functionErrors"] == 1
    assert destination_records(api, f"{fn_name}-failed", failing) == []
    # An attempt is not cut short: one that succeeds stands, and its destination gets it.
    done = wait_status(api, passing, "succeeded")
    assert done["result"] == "fine" and len(destination_records(api, f"{fn_name}-ok", passing)) == 1
    ended_error = stop(api, passing, 409)["error"]
    assert ended_error["code"] == "InvocationEnded" and "succeeded" in ended_error["message"]


def test_stopping_what_is_not_there(api):
    assert stop(api, "no-such-invocation", 404)["error"]["code"] == "InvocationNotFound"
    for bad in ("a_b", "x" * 65):
        assert stop(api, bad, 400)["error"]["code"] == "InvalidArgument"


def test_a_callers_task_id_is_accepted_once(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(event, context):\n    return event\n"})
    task = f"task-{fn_name}"
    assert submit(api, fn_name, b"one", **{"X-Fc-Async-Task-Id": task}) == task
    again = api.invoke(fn_name, b"two", {"X-Fc-Invocation-Type": "Async", "X-Fc-Async-Task-Id": task})
    assert again.status_code == 409 and again.json()["error"]["code"] == "InvocationAlreadyExists"
    assert wait_status(api, task, "succeeded")["result"] == "one"  # the first one's event, run once
    assert record(api, task)["attempts"] == 1
    # Without a task id, an async invocation's X-Fc-Request-Id is its task id (as on Function Compute).
    by_request_id = f"req-{fn_name}"
    assert submit(api, fn_name, **{"X-Fc-Request-Id": by_request_id}) == by_request_id
    assert api.invoke(fn_name, b"", {"X-Fc-Invocation-Type": "Async",
                                     "X-Fc-Request-Id": by_request_id}).status_code == 409
    # An id the platform made cannot be taken over either.
    made = submit(api, fn_name, b"made")
    taken = api.invoke(fn_name, b"", {"X-Fc-Invocation-Type": "Async", "X-Fc-Async-Task-Id": made})
    assert taken.status_code == 409
    for bad in ("a_b", "x" * 65, "init-1", "adopt-1", "a b"):
        resp = api.invoke(fn_name, b"", {"X-Fc-Invocation-Type": "Async", "X-Fc-Async-Task-Id": bad})
        assert resp.status_code == 400 and "X-Fc-Async-Task-Id" in resp.json()["error"]["message"], bad
    sync = api.invoke(fn_name, b"", {"X-Fc-Async-Task-Id": f"sync-{fn_name}"})
    assert sync.status_code == 400 and "Async" in sync.json()["error"]["message"]


def test_the_recent_invocations_come_in_pages(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(event, context):\n    return event\n"})
    ids = [submit(api, fn_name, str(i).encode()) for i in range(5)]
    seen, after = [], None
    for _ in range(3):
        params = {"limit": 2} | ({"after": after} if after else {})
        page = api.request("GET", f"/v1/functions/{fn_name}/invocations", params=params).json()
        seen += [i["requestId"] for i in page["invocations"]]
        after = page.get("next")
        if after is None:
            break
    assert seen == ids[::-1]
    stale = api.request("GET", f"/v1/functions/{fn_name}/invocations", params={"after": "no-such-id"})
    assert stale.status_code == 400 and stale.json()["error"]["code"] == "InvalidArgument"


WSGI_APP = """
def handler(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("202 Accepted", [("X-Seen", environ["PATH_INFO"] + "?" + environ["QUERY_STRING"])])
    return [b"later:", body]
"""


def test_an_http_functions_async_call_through_its_trigger_gets_the_stored_request(api, stack, fn_name):
    plat, _ = stack
    api.deploy(fn_name, {"index.py": WSGI_APP}, handlerType="wsgi")
    made = api.request("POST", f"/v1/functions/{fn_name}/triggers",
                       json={"triggerName": "web", "triggerType": "http", "triggerConfig": {"authType": "anonymous"}})
    assert made.status_code == 201, made.text
    resp = requests.post(f"{plat.url}/function/{fn_name}/path?k=v", data=b"the body", timeout=60,
                         headers={"X-Fc-Invocation-Type": "Async"})
    assert resp.status_code == 202, resp.text
    ended = wait_status(api, resp.json()["requestId"], "succeeded")
    result = json.loads(ended["result"])
    assert result["statusCode"] == 202 and result["headers"]["X-Seen"] == "/path?k=v"
    assert base64.b64decode(result["body"]) == b"later:the body"
