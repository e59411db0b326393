"""What the console stands on, without a browser: its files as the control plane serves them (and refuses
to), and the two API resources it added: recent async invocations of a function and each function's last
hour. Real control plane, containers, Redis and async workers."""

import json
import time

import pytest
import redis
import requests

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

CODE = {"index.py": "def handler(event, context):\n    if event == b'fail':\n        raise ValueError('asked to')\n"
                    "    return event\n"}


@pytest.fixture
def plat(async_stack):
    return async_stack[0]


def test_the_console_is_served_with_a_strict_policy(plat):
    moved = requests.get(plat.url + "/console", allow_redirects=False, timeout=10)
    assert moved.status_code == 301 and moved.headers["Location"] == "/console/"
    page = requests.get(plat.url + "/console/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert '<script src="console.js" defer></script>' in page.text
    script = requests.get(plat.url + "/console/console.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")
    again = requests.get(plat.url + "/console/console.js", headers={"If-None-Match": script.headers["ETag"]},
                         timeout=10)
    assert again.status_code == 304 and again.content == b""
    licence = requests.get(plat.url + "/console/vendor/uplot/LICENSE", timeout=10)
    assert licence.status_code == 200 and "MIT" in licence.text


@pytest.mark.parametrize("path", [
    "/console/nothing.js", "/console/%2e%2e/%2e%2e/etc/passwd", "/console/..%2f..%2fetc%2fpasswd",
    "/console/vendor/..%2F..%2F..%2Fpyproject.toml", "/console/console.js%00", "/console/console.js%0a",
    "/console/console.js/", "/console/.hidden", "/console//etc/passwd", "/console/" + "a" * 4000,
    "/console/%c0%ae%c0%ae/etc/passwd", "/console/vendor/MANIFEST/x",
])
def test_nothing_but_the_console_files_is_served(plat, path):
    resp = requests.get(plat.url + path, timeout=10)
    assert resp.status_code == 404, (path, resp.status_code)
    assert resp.json()["error"]["code"] == "NotFound"
    assert "root:" not in resp.text and "[project]" not in resp.text


def test_the_console_files_are_read_only(plat):
    resp = requests.post(plat.url + "/console/", data=b"x", timeout=10)
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "MethodNotAllowed"


def test_recent_async_invocations_newest_first_by_status(plat, fn_name):
    api = plat.api
    api.deploy(fn_name, CODE, **{"async": {"retries": 0}})
    ids = []
    for event in (b"one", b"fail", b"two"):
        resp = api.invoke(fn_name, event, headers={"X-Fc-Invocation-Type": "Async"})
        assert resp.status_code == 202
        ids.append(resp.json()["requestId"])
    wait_for(lambda: all(api.request("GET", f"/v1/invocations/{i}").json()["status"] in ("succeeded", "failed")
                         for i in ids), timeout=120, what="the three events to end")
    listed = api.request("GET", f"/v1/functions/{fn_name}/invocations").json()
    assert listed["functionName"] == fn_name
    assert [r["requestId"] for r in listed["invocations"]] == ids[::-1]
    assert all("result" not in r for r in listed["invocations"])
    failed = api.request("GET", f"/v1/functions/{fn_name}/invocations?status=failed").json()["invocations"]
    assert [(r["requestId"], r["status"], r["attempts"]) for r in failed] == [(ids[1], "failed", 1)]
    one = api.request("GET", f"/v1/functions/{fn_name}/invocations?limit=1").json()["invocations"]
    assert [r["requestId"] for r in one] == [ids[2]]

    # A record that expired leaves the listing, and the index.
    conn = redis.Redis.from_url(plat.env["FAAS_REDIS_URL"])
    prefix = plat.env["FAAS_REDIS_PREFIX"]
    conn.delete(f"{prefix}:inv:{ids[2]}")
    listed = api.request("GET", f"/v1/functions/{fn_name}/invocations").json()["invocations"]
    assert [r["requestId"] for r in listed] == ids[1::-1]
    assert conn.zscore(f"{prefix}:async:recent:{fn_name}", ids[2]) is None
    assert conn.ttl(f"{prefix}:async:recent:{fn_name}") > 86400


def test_events_of_triggers_are_listed_too(plat, fn_name):
    api = plat.api
    api.deploy(fn_name, CODE)
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers", json={
        "triggerName": "tick", "triggerType": "timer", "triggerConfig": {"cronExpression": "@every 1s"}})
    assert resp.status_code == 201, resp.text
    queue = fn_name + "-in"
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers", json={
        "triggerName": "inbox", "triggerType": "queue", "triggerConfig": {"queueName": queue}})
    assert resp.status_code == 201, resp.text
    assert api.request("POST", f"/v1/queues/{queue}/messages", data=b"hello").status_code == 201

    def kinds():
        found = api.request("GET", f"/v1/functions/{fn_name}/invocations?limit=100").json()["invocations"]
        return {(r["trigger"] or {}).get("triggerType") for r in found}

    wait_for(lambda: {"timer", "queue"} <= kinds(), timeout=60, what="a timer's and a queue trigger's events")
    api.delete(fn_name)


@pytest.mark.parametrize("query,message", [
    ("status=bogus", "status must be one of"), ("status=failed%0a", "status must be one of"),
    ("status=", "status must be one of"), ("status=FAILED", "status must be one of"),
    ("limit=0", "limit must be"), ("limit=101", "limit must be"), ("limit=-1", "limit must be"),
    ("limit=1e2", "limit must be"), ("limit=abc", "limit must be"), ("limit=5%0a", "limit must be"),
    ("limit=%EF%BC%95", "limit must be"), ("limit=" + "9" * 400, "limit must be"),
])
def test_listing_refuses_bad_parameters(plat, fn_name, query, message):
    plat.api.deploy(fn_name, CODE)
    resp = plat.api.request("GET", f"/v1/functions/{fn_name}/invocations?{query}")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument"
    assert resp.json()["error"]["message"].startswith(message)
    plat.api.delete(fn_name)


@pytest.mark.parametrize("name,status,code", [
    ("no-such-fn", 404, "FunctionNotFound"), ("Bad_Name", 400, "InvalidArgument"), ("a" * 64, 400, "InvalidArgument"),
    ("x%0a", 400, "InvalidArgument"), ("..", 404, "NotFound"),  # the client folds the `..`: no such route
])
def test_listing_of_a_missing_or_forged_function(plat, name, status, code):
    resp = plat.api.request("GET", f"/v1/functions/{name}/invocations")
    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), resp.text


def test_stats_count_each_functions_last_hour(plat, fn_name):
    api = plat.api
    api.deploy(fn_name, CODE)
    before = time.time()
    for event in (b"a", b"fail", b"b", b"c"):
        assert api.invoke(fn_name, event).status_code == 200
    stats = api.request("GET", "/v1/stats").json()
    assert stats["windowSeconds"] == 3600
    mine = next(f for f in stats["functions"] if f["functionName"] == fn_name)
    assert (mine["invocations"], mine["errors"], mine["errorRate"]) == (4, 1, 0.25)
    assert mine["coldStarts"] == 1
    assert before <= mine["lastInvocationAt"] <= time.time()
    json.dumps(stats)


def test_an_invoke_token_may_not_read_the_listings(plat):
    made = plat.api.request("POST", "/v1/tokens", json={"role": "invoke", "name": "console-api"}).json()["token"]
    headers = {"Authorization": f"Bearer {made}"}
    for path in ("/v1/stats", "/v1/functions/anything/invocations"):
        resp = requests.get(plat.url + path, headers=headers, timeout=10)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "Forbidden"
