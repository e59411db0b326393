"""Redis with Sentinel: a primary, two replicas and three Sentinels (real redis-server processes), a control
plane and workers that find the primary through the Sentinels, a failover under them, and no accepted async
event lost across it (FAAS_REDIS_MIN_REPLICAS: an event is acknowledged once a replica holds it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import redis
import redis.sentinel

from conftest import PlatformProcess, WorkerProcess, _clean_up
from helpers import free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

SERVICE = "faas-test"
CODE = {"index.py": "def handler(event, context):\n    return b'done:' + event\n"}


class RedisSet:
    """A primary, its replicas and the Sentinels that watch them, each a redis-server process."""

    def __init__(self, root):
        self.root = root
        self.binary = shutil.which("redis-server")
        self.procs: dict[int, subprocess.Popen] = {}
        self.primary = self._server()
        self.replicas = [self._server(f"--replicaof 127.0.0.1 {self.primary}") for _ in range(2)]
        self.sentinels = [self._sentinel(i) for i in range(3)]

    def _start(self, port: int, args: list[str]) -> int:
        self.procs[port] = subprocess.Popen([self.binary, *args], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        wait_for(lambda: _pings(port), timeout=10, what=f"redis-server on {port}")
        return port

    def _server(self, extra: str = "") -> int:
        port = free_port()
        data = self.root / str(port)
        data.mkdir()
        return self._start(port, ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                                  "--dir", str(data), *extra.split()])

    def _sentinel(self, index: int) -> int:
        port = free_port()
        conf = self.root / f"sentinel-{index}.conf"
        conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {self.root}\n"
                        f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary} 2\n"
                        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                        f"sentinel failover-timeout {SERVICE} 5000\n")
        return self._start(port, [str(conf), "--sentinel"])

    def primary_now(self) -> int:
        """The primary's port as a Sentinel says now."""
        _, port = redis.sentinel.Sentinel([("127.0.0.1", p) for p in self.sentinels]).discover_master(SERVICE)
        return int(port)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _pings(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def redis_set(tmp_path):
    made = RedisSet(tmp_path)
    # Ready once every Sentinel knows both replicas (and so can promote one).
    wait_for(lambda: all(len(redis.Redis(port=s).sentinel_slaves(SERVICE)) == 2 for s in made.sentinels),
             timeout=30, what="the Sentinels to see both replicas")
    yield made
    made.stop()


@pytest.fixture
def sentinel_stack(redis_set, docker_client, tmp_path):
    sentinels = ",".join(f"127.0.0.1:{p}" for p in redis_set.sentinels)
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
