"""Queues bounded without losing what was accepted: a full queue refuses (429, Retry-After) and drops nothing;
a queue with a trigger drops a message only once its invocation ended; batches keep no copy of their messages
once they end; a full Redis (maxmemory, noeviction) refuses with 503 and what it accepted stays; a trigger's
lag is right after a Redis restart."""

import json
import shutil
import subprocess

import pytest
import redis as redis_lib

from conftest import FAST, PlatformProcess, WorkerProcess, _clean_up
from helpers import free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

BATCH = """
import json, time
def handler(event, context):
    time.sleep(0.3)
    return [m["body"] for m in json.loads(event)]
"""


def publish(api, queue, body):
    return api.request("POST", f"/v1/queues/{queue}/messages", data=body)


def listed(api, queue) -> list[dict]:
    out, after = [], None
    while True:
        params = {"count": 1000} | ({"after": after} if after else {})
        page = api.request("GET", f"/v1/queues/{queue}/messages", params=params).json()
        out += page["messages"]
        if not page["messages"]:
            return out
        after = page["next"]


def assert_full(resp, what: str):
    assert resp.status_code == 429, resp.text
    error = resp.json()["error"]
    assert error["code"] == "TooManyRequests" and what in error["message"], error
    assert int(resp.headers["Retry-After"]) > 0


@pytest.fixture
def stack(start_platform):
    """A control plane with small queue limits and workers of its own."""
    plat = start_platform(FAAS_QUEUE_MAX_MESSAGES="20", FAAS_QUEUE_MAX_MB="1", FAAS_QUEUES_MAX_MB="1.5", **FAST)
    workers = WorkerProcess(plat)
    workers.start()
    yield plat
    workers.stop()


def test_a_full_queue_refuses_and_keeps_every_message(stack, fn_name):
    api, queue = stack.api, f"{fn_name}-q"
    ids = []
    for i in range(20):
        resp = publish(api, queue, f"m{i}")
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["messageId"])
    assert_full(publish(api, queue, "one too many"), "FAAS_QUEUE_MAX_MESSAGES")
    assert [m["id"] for m in listed(api, queue)] == ids  # the oldest were not dropped to make room
    # A reader that is done with some makes room; a malformed or forged deletion is refused.
    for bad in ("", "abc", "1-2\n", "-1-0", "1-2-3", f"{2 ** 64}-0", "18446744073709551615-0"):
        resp = api.request("DELETE", f"/v1/queues/{queue}/messages", params={"through": bad})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", (bad, resp.text)
    assert api.request("DELETE", f"/v1/queues/{queue}/messages").status_code == 400
    assert api.request("DELETE", "/v1/queues/Bad_Q/messages", params={"through": ids[0]}).status_code == 400
    # Ids past what Lua's doubles hold (the fuzz test's 500): through everything acknowledged, here nothing.
    other = f"{queue}-other"
    for huge, deleted, first in (("1-18446744073709551614", 0, True), ("09289082010814963818-81", 1, False),
                                 ("18446744073709551614-18446744073709551614", 1, True)):
        if first:  # (a message first: without one, the queue has no stream to trim)
            assert publish(api, other, "one").status_code == 201
        resp = api.request("DELETE", f"/v1/queues/{other}/messages", params={"through": huge})
        assert resp.status_code == 200 and resp.json() == {"queue": other, "deleted": deleted}, (huge, resp.text)
    gone = api.request("DELETE", f"/v1/queues/{queue}/messages", params={"through": ids[4]})
    assert gone.status_code == 200 and gone.json() == {"queue": queue, "deleted": 5}
    assert [m["id"] for m in listed(api, queue)] == ids[5:]
    for i in range(5):
        assert publish(api, queue, f"n{i}").status_code == 201
    assert_full(publish(api, queue, "full again"), "FAAS_QUEUE_MAX_MESSAGES")


def test_a_queue_is_bounded_in_bytes_and_all_queues_together(stack, fn_name):
    api, big = stack.api, "x" * (200 * 1024)
    accepted = 0
    for _ in range(20):
        resp = publish(api, f"{fn_name}-a", big)
        if resp.status_code != 201:
            assert_full(resp, "FAAS_QUEUE_MAX_MB")
            break
        accepted += 1
    else:
        pytest.fail("a 1 MB queue took 20 messages of 200 KB")
    assert 3 <= accepted <= 6 and len(listed(api, f"{fn_name}-a")) == accepted
    # A second queue fills what is left of the 1.5 MB for all queues; then a third is refused as a whole.
    for _ in range(20):
        if publish(api, f"{fn_name}-b", big).status_code != 201:
            break

    def third_refused():
        resp = publish(api, f"{fn_name}-c", "small")
        return [resp] if resp.status_code == 429 else None  # (a Response of 429 is falsy)

    assert_full(wait_for(third_refused, timeout=20, what="the limit on all queues")[0], "FAAS_QUEUES_MAX_MB")


def test_a_trigger_takes_everything_and_only_then_it_leaves(stack, fn_name, redis_server):
    api, queue, out = stack.api, f"{fn_name}-q", f"{fn_name}-out"
    api.deploy(fn_name, {"index.py": BATCH}, **{"async": {"onSuccess": f"queue:{out}"}})
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers",
                       json={"triggerName": "q", "triggerType": "queue",
                             "triggerConfig": {"queueName": queue, "batchSize": 5, "startFrom": "earliest"}})
    assert resp.status_code == 201, resp.text
    sent, refused = [], 0
    for i in range(60):  # more than the queue holds: a full queue refuses, and frees room as batches end
        resp = publish(api, queue, f"m{i}")
        if resp.status_code == 201:
            sent.append(f"m{i}")
        else:
            assert_full(resp, "FAAS_QUEUE_MAX_MESSAGES")
            refused += 1
    assert refused > 0, "the queue never filled: the test proves nothing"

    def delivered():
        bodies = [b for m in listed(api, out) for b in json.loads(m["record"]["responsePayload"])]
        return bodies if len(bodies) >= len(sent) else None

    bodies = wait_for(delivered, timeout=120, what="every accepted message delivered")
    assert sorted(set(bodies)) == sorted(sent)  # every accepted message, none lost
    wait_for(lambda: listed(api, queue) == [], timeout=30, what="the queue to drop what the trigger took")
    backlog = api.request("GET", f"/v1/functions/{fn_name}/triggers/q").json()["backlog"]
    assert backlog == {"pending": 0, "lag": 0}
    # The batches' records keep no copy of their messages once they ended.
    conn = redis_lib.Redis.from_url(redis_server)
    prefix = stack.env["FAAS_REDIS_PREFIX"]
    for record in listed(api, out):
        rid = record["record"]["requestContext"]["requestId"]
        assert conn.hget(f"{prefix}:inv:{rid}", "status") == b"succeeded"
        assert conn.hget(f"{prefix}:inv:{rid}", "event") is None
    conn.close()


class OwnRedis:
    """A redis-server of the test's own (AOF on), that it can fill or restart."""

    def __init__(self, tmp_path, *args: str):
        self.port = free_port()
        data = tmp_path / "redis"
        data.mkdir()
        self.cmd = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--appendonly",
                    "yes", "--save", "", "--dir", str(data), *args]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL)
        client = redis_lib.Redis(port=self.port)
        wait_for(lambda: _pings(client), timeout=30, what="redis-server")
        client.close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis_lib.RedisError:
        return False


@pytest.fixture
def own_redis_platform(tmp_path, docker_client):
    made = []

    def make(*redis_args: str, **env):
        own = OwnRedis(tmp_path, *redis_args)
        plat = PlatformProcess(own.url, tmp_path / "server.log", **FAST, **env)
        workers = WorkerProcess(plat)
        made.append((own, plat, workers))
        plat.start()
        workers.start()
        return own, plat

    yield make
    for own, plat, workers in made:
        workers.stop()
        left = _clean_up(docker_client, plat)
        own.stop()
        assert not left


def test_a_full_redis_refuses_with_503_and_keeps_what_it_took(own_redis_platform, fn_name):
    own, plat = own_redis_platform("--maxmemory", "40mb", "--maxmemory-policy", "noeviction",
                                   FAAS_QUEUE_MAX_MB="1000", FAAS_QUEUES_MAX_MB="1000")
    api, queue, big = plat.api, f"{fn_name}-q", "y" * (250 * 1024)
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return e\n"})
    ids = []
    for _ in range(400):  # 100 MB at most: far past 40 MB
        resp = publish(api, queue, big)
        if resp.status_code != 201:
            break
        ids.append(resp.json()["messageId"])
    else:
        pytest.fail("a Redis of 40 MB took 100 MB")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "ServiceUnavailable" and "full" in resp.json()["error"]["message"]
    assert int(resp.headers["Retry-After"]) > 0
    refused = api.invoke(fn_name, b"x" * 200_000, {"X-Fc-Invocation-Type": "Async"})
    assert refused.status_code == 503, refused.text  # an async event Redis cannot store is not accepted
    assert api.request("GET", "/healthz").status_code == 200
    assert [m["id"] for m in listed(api, queue)] == ids  # everything it took is there
    # A reader makes room; then it takes more.
    api.request("DELETE", f"/v1/queues/{queue}/messages", params={"through": ids[-1]})
    accepted = api.invoke(fn_name, b"after", {"X-Fc-Invocation-Type": "Async"})
    assert accepted.status_code == 202, accepted.text
    assert publish(api, queue, "small").status_code == 201


def test_a_drained_queue_shows_no_lag_after_a_redis_restart(own_redis_platform, fn_name):
    own, plat = own_redis_platform()
    api, queue = plat.api, f"{fn_name}-q"
    api.deploy(fn_name, {"index.py": BATCH})
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers",
                       json={"triggerName": "q", "triggerType": "queue",
                             "triggerConfig": {"queueName": queue, "batchSize": 10, "startFrom": "earliest"}})
    assert resp.status_code == 201, resp.text
    for i in range(30):
        assert publish(api, queue, f"m{i}").status_code == 201

    def backlog():
        resp = api.request("GET", f"/v1/functions/{fn_name}/triggers/q")
        return resp.json()["backlog"] if resp.status_code == 200 else None

    wait_for(lambda: backlog() == {"pending": 0, "lag": 0}, timeout=60, what="the queue drained")
    own.stop()
    own.start()
    wait_for(lambda: backlog() is not None, timeout=60, what="the platform back on Redis")
    assert backlog() == {"pending": 0, "lag": 0}
    assert publish(api, queue, "after").status_code == 201
    wait_for(lambda: backlog() == {"pending": 0, "lag": 0}, timeout=60, what="the new message taken")
