"""Redis with Sentinel: a primary, two replicas and three Sentinels (real redis-server processes), a control
plane and workers that find the primary through the Sentinels, a failover under them, and no accepted async
event lost across it (FAAS_REDIS_MIN_REPLICAS: an event is acknowledged once a replica holds it)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from conftest import PlatformProcess, WorkerProcess, _clean_up
from helpers import SENTINEL_SERVICE as SERVICE
from helpers import RedisSet, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

CODE = {"index.py": "def handler(event, context):\n    return b'done:' + event\n"}


@pytest.fixture
def redis_set(tmp_path):
    made = RedisSet(tmp_path, service=SERVICE)
    # Ready once every Sentinel knows both replicas (and so can promote one).
    wait_for(made.ready, timeout=30, what="the Sentinels to see both replicas")
    yield made
    made.stop()


@pytest.fixture
def sentinel_stack(redis_set, docker_client, tmp_path):
    sentinels = redis_set.sentinel_list
    plat = PlatformProcess(f"redis://127.0.0.1:{redis_set.primary}/0", tmp_path / "server.log",
                           FAAS_REDIS_SENTINELS=sentinels, FAAS_REDIS_SERVICE=SERVICE, FAAS_REDIS_MIN_REPLICAS="1",
                           FAAS_FUNCTION_RETRY_BASE="0.2", FAAS_SYSTEM_RETRY_INITIAL="0.2",
                           FAAS_SYSTEM_RETRY_MAX_WAIT="1", FAAS_WORKER_LEASE="3", FAAS_SWEEP_INTERVAL="0.2",
                           FAAS_AUDIT_INTERVAL="2", FAAS_CELLS_MIN="1")
    plat.start()
    workers = WorkerProcess(plat)
    workers.start()
    yield plat, redis_set
    workers.stop()
    assert not _clean_up(docker_client, plat)


def accept(api, name: str, event: bytes, deadline: float) -> str:
    """An async invocation accepted, asked again while the platform answers 503 (a failover under way)."""
    while True:
        resp = api.invoke(name, event, headers={"X-Fc-Invocation-Type": "Async"})
        if resp.status_code == 202:
            return resp.json()["requestId"]
        assert resp.status_code == 503 and time.monotonic() < deadline, resp.text
        time.sleep(0.2)


def status(api, request_id: str) -> str | None:
    resp = api.request("GET", f"/v1/invocations/{request_id}", timeout=10)
    return resp.json()["status"] if resp.status_code == 200 else None


def test_accepted_events_survive_a_failover(sentinel_stack, fn_name):
    plat, redis_set = sentinel_stack
    api = plat.api
    api.deploy(fn_name, CODE)
    assert api.invoke(fn_name, b"sync").text == "done:sync"
    before = [accept(api, fn_name, f"before-{i}".encode(), time.monotonic() + 30) for i in range(20)]
    old = redis_set.primary
    # The primary dies at once, while events may still be queued or running.
    os.kill(redis_set.procs[old].pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    after = [accept(api, fn_name, f"after-{i}".encode(), deadline) for i in range(20)]
    assert redis_set.primary_now() != old
    ids = before + after
    wait_for(lambda: all(status(api, i) == "succeeded" for i in ids), timeout=120,
             what="every event accepted before and after the failover to end")
    results = {api.request("GET", f"/v1/invocations/{i}").json()["result"] for i in ids}
    assert results == {f"done:{side}-{n}" for side in ("before", "after") for n in range(20)}
    assert api.invoke(fn_name, b"again").text == "done:again"  # the sync path too, on the new primary


def test_an_event_no_replica_holds_is_not_acknowledged(sentinel_stack, fn_name):
    plat, redis_set = sentinel_stack
    api = plat.api
    api.deploy(fn_name, CODE)
    for port in redis_set.replicas:
        os.kill(redis_set.procs[port].pid, signal.SIGSTOP)  # both replicas stop answering
    try:
        started = time.monotonic()
        resp = api.invoke(fn_name, b"x", headers={"X-Fc-Invocation-Type": "Async"})
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "ServiceUnavailable"
        assert "replica" in resp.json()["error"]["message"]
        assert time.monotonic() - started >= 0.9  # it waited for them (FAAS_REDIS_MIN_REPLICAS), then refused
        published = api.request("POST", "/v1/queues/q1/messages", data=b"m")
        assert published.status_code == 503
    finally:
        for port in redis_set.replicas:
            os.kill(redis_set.procs[port].pid, signal.SIGCONT)
    rid = accept(api, fn_name, b"y", time.monotonic() + 30)
    wait_for(lambda: status(api, rid) == "succeeded", timeout=60, what="the event accepted once replicas answer")


def test_a_write_that_fails_inside_the_transaction_is_an_error_with_replicas_too(sentinel_stack, fn_name):
    """With FAAS_REDIS_MIN_REPLICAS the accept is sent by hand (MULTI/EXEC, WAIT on one connection): a command
    that fails inside EXEC is still an error, as in a pipeline, never a 202."""
    plat, redis_set = sentinel_stack
    api = plat.api
    api.deploy(fn_name, CODE)
    conn = redis.Redis(port=redis_set.primary_now())
    conn.set(f"{plat.env['FAAS_REDIS_PREFIX']}:async:recent:{fn_name}", "not a sorted set")
    resp = api.invoke(fn_name, b"x", headers={"X-Fc-Invocation-Type": "Async"})
    assert resp.status_code == 500 and resp.json()["error"]["code"] == "InternalError"
