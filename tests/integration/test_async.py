"""Async invocations with real Redis, real RQ workers and real containers."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import FAST, PlatformProcess, WorkerProcess, _clean_up
from helpers import IMAGE_PATH, free_port, redis_answers, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

ECHO = "def handler(event, context):\n    return {'event': event.decode(), 'attempt': context.attempt}\n"


def slow_echo(seconds: float) -> dict[str, str]:
    """Code of a function that takes `seconds`, then returns its event."""
    return {"index.py": f"import time\ndef handler(event, context):\n    time.sleep({seconds})\n    return event\n"}


@pytest.fixture
def stack(async_stack):
    return async_stack


@pytest.fixture
def api(async_stack):
    return async_stack[0].api


def submit(api, name, event=b"", **headers):
    resp = api.invoke(name, event, {"X-Fc-Invocation-Type": "Async", **headers})
    assert resp.status_code == 202, resp.text
    request_id = resp.json()["requestId"]
    assert resp.headers["X-Fc-Request-Id"] == request_id
    return request_id


def status(api, request_id):
    resp = api.request("GET", f"/v1/invocations/{request_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_ended(api, request_id, timeout=60):
    def ended():
        resp = api.request("GET", f"/v1/invocations/{request_id}")
        if resp.status_code == 503:  # Redis restarting: the platform says so, and the test asks again
            return None
        assert resp.status_code == 200, resp.text
        return resp.json() if resp.json()["status"] in ("succeeded", "failed") else None

    return wait_for(ended, timeout=timeout, what=f"async event {request_id} to end")


def messages(api, queue):
    resp = api.request("GET", f"/v1/queues/{queue}/messages", params={"count": 1000})
    assert resp.status_code == 200, resp.text
    return resp.json()["messages"]


def records_for(api, queue, request_id):
    return [m["record"] for m in messages(api, queue) if m["record"]["requestContext"]["requestId"] == request_id]


def test_accept_validates(api, fn_name):
    api.deploy(fn_name, {"index.py": ECHO})
    assert api.invoke("nobody-here", b"x", {"X-Fc-Invocation-Type": "Async"}).status_code == 404
    big = api.invoke(fn_name, b"x" * (256 * 1024 + 1), {"X-Fc-Invocation-Type": "Async"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "PayloadTooLarge"
    bad = api.invoke(fn_name, b"x", {"X-Fc-Invocation-Type": "Maybe"})
    assert bad.status_code == 400
    assert api.request("GET", "/v1/invocations/no-such-id").status_code == 404
    assert api.request("GET", "/v1/invocations/bad id!").status_code == 400


def test_success_goes_to_on_success(api, fn_name):
    api.deploy(fn_name, {"index.py": ECHO}, **{"async": {"onSuccess": f"queue:{fn_name}-ok"}})
    rid = submit(api, fn_name, b"hello")
    ended = wait_ended(api, rid)
    assert ended["status"] == "succeeded" and ended["attempts"] == 1 and ended["condition"] == "Success"
    assert json.loads(ended["result"]) == {"event": "hello", "attempt": 1}
    (record,) = records_for(api, f"{fn_name}-ok", rid)
    assert record["requestContext"] == {"requestId": rid, "functionName": fn_name, "condition": "Success",
                                        "approximateInvokeCount": 1}
    assert record["requestPayload"] == "hello"
    assert record["responseContext"] == {"statusCode": 200, "functionError": None}
    assert json.loads(record["responsePayload"])["event"] == "hello"


def metric(api, line_start: str) -> float:
    """The value of the /metrics series whose line starts with `line_start` (0 when it is not there)."""
    for line in api.request("GET", "/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rpartition(" ")[2])
    return 0.0


def test_always_failing_reaches_on_failure_after_4_attempts(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    raise RuntimeError('always')\n"},
               **{"async": {"onFailure": f"queue:{fn_name}-bad"}})
    exhausted = 'faas_async_events_total{condition="RetriesExhausted",status="failed"}'
    retried = 'faas_async_retries_total{kind="function_error"}'
    before = metric(api, exhausted), metric(api, retried)
    rid = submit(api, fn_name, b"x")
    ended = wait_ended(api, rid)
    # The workers' counters, kept in Redis, reach the control plane's /metrics (other tests may add to them).
    assert metric(api, exhausted) >= before[0] + 1 and metric(api, retried) >= before[1] + 3
    assert metric(api, "faas_async_workers") >= 1
    assert ended["status"] == "failed" and ended["condition"] == "RetriesExhausted"
    assert ended["attempts"] == 4 and ended["functionErrors"] == 4 and ended["systemRetries"] == 0
    assert ended["lastError"]["errorType"] == "RuntimeError"
    (record,) = records_for(api, f"{fn_name}-bad", rid)
    assert record["requestContext"]["approximateInvokeCount"] == 4
    assert record["responseContext"]["functionError"] == "HandledInvocationError"


def test_default_on_failure_is_the_dead_letter_queue(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    raise RuntimeError('x')\n"}, **{"async": {"retries": 0}})
    rid = submit(api, fn_name)
    assert wait_ended(api, rid)["attempts"] == 1
    assert records_for(api, "dead-letter", rid)


def test_fails_twice_then_succeeds(api, fn_name):
    api.deploy(fn_name, {"index.py": ("def handler(event, context):\n"
                                      "    if context.attempt < 3:\n"
                                      "        raise ValueError('not yet: attempt %d' % context.attempt)\n"
                                      "    return 'made it'\n")})
    rid = submit(api, fn_name)
    ended = wait_ended(api, rid)
    assert ended["status"] == "succeeded" and ended["attempts"] == 3 and ended["functionErrors"] == 2
    assert ended["result"] == "made it"


def test_system_error_retried_until_the_cause_is_gone(api, fn_name, docker_client):
    created = api.deploy(fn_name, {"index.py": ECHO}, environment=IMAGE_PATH,
                         **{"async": {"onSuccess": f"queue:{fn_name}-ok"}})
    docker_client.images.remove(created["image"], force=True)  # from outside: no container can start
    rid = submit(api, fn_name, b"patient")
    wait_for(lambda: status(api, rid)["systemRetries"] >= 3, timeout=30, what="system retries")
    mid = status(api, rid)
    assert mid["status"] in ("retrying", "running", "queued") and mid["functionErrors"] == 0
    assert mid["lastError"]["errorType"] == "ServiceUnavailable"
    # The cause goes away: the same code deployed again builds the image again.
    assert api.update(fn_name, {"index.py": ECHO}).status_code == 200
    ended = wait_ended(api, rid)
    assert ended["status"] == "succeeded" and ended["functionErrors"] == 0 and ended["systemRetries"] >= 3
    assert json.loads(ended["result"])["event"] == "patient"
    assert records_for(api, f"{fn_name}-ok", rid)


def test_a_container_killed_from_outside_is_a_system_error(api, fn_name, stack, docker_client):
    """`docker kill` mid-event is not the function's fault: retried without using up its retries (0 here)."""
    api.deploy(fn_name, {"index.py": ("import time\ndef handler(event, context):\n"
                                      "    if event == b'warm':\n        return 'warm'\n"
                                      "    if context.attempt == 1:\n        time.sleep(30)\n"
                                      "    return 'second try'\n")}, environment=IMAGE_PATH,
               **{"async": {"retries": 0}})
    # A warm container first: the event's first attempt then runs at once (a cold start longer than this
    # stack's 1 s queue timeout would make it a system retry, whose attempt no longer sleeps; the same 429 may
    # answer this call, while the container it asked for goes on starting).
    wait_for(lambda: api.invoke(fn_name, "warm").content == b"warm", timeout=60, what="a warm container")
    rid = submit(api, fn_name)
    wait_for(lambda: status(api, rid)["status"] == "running", timeout=30, what="the event to run")
    wait_for(lambda: any(i["state"] == "Busy" for i in
                         api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]),
             timeout=60, what="its container to take the event")
    label = f"faas.function={fn_name}"
    (container,) = docker_client.containers.list(filters={"label": label})
    container.kill()
    ended = wait_ended(api, rid)
    assert ended["status"] == "succeeded" and ended["result"] == "second try", ended
    assert ended["functionErrors"] == 0 and ended["systemRetries"] >= 1


def test_max_event_age(api, fn_name, docker_client):
    created = api.deploy(fn_name, {"index.py": ECHO}, environment=IMAGE_PATH,
                         **{"async": {"maxEventAgeSeconds": 2, "onFailure": f"queue:{fn_name}-old"}})
    docker_client.images.remove(created["image"], force=True)
    rid = submit(api, fn_name)
    ended = wait_ended(api, rid, timeout=30)
    assert ended["status"] == "failed" and ended["condition"] == "EventAgeExceeded"
    assert ended["functionErrors"] == 0
    (record,) = records_for(api, f"{fn_name}-old", rid)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"


def test_function_destination_chains(api, fn_name):
    target = fn_name[:50] + "-next"
    api.deploy(target, {"index.py": ("import json\n"
                                     "def handler(event, context):\n"
                                     "    record = json.loads(event)\n"
                                     "    return record['requestContext']['requestId']\n")},
               **{"async": {"onSuccess": f"queue:{target}-done"}})
    api.deploy(fn_name, {"index.py": ECHO}, **{"async": {"onSuccess": f"function:{target}"}})
    rid = submit(api, fn_name, b"first")
    assert wait_ended(api, rid)["destination"] == f"function:{target}"
    done = wait_for(lambda: messages(api, f"{target}-done"), timeout=30, what="the chained invocation")
    (record,) = done
    assert record["record"]["requestContext"]["functionName"] == target
    assert record["record"]["responsePayload"] == rid  # the chained function got the first one's record


def test_worker_killed_mid_event_loses_nothing(api, fn_name, stack):
    _, workers = stack
    api.deploy(fn_name, {"index.py": ("import time\n"
                                      "def handler(event, context):\n"
                                      "    time.sleep(2)\n"
                                      "    return 'slept %d' % context.attempt\n")})
    api.invoke(fn_name)  # warm
    rid = submit(api, fn_name)
    wait_for(lambda: status(api, rid)["status"] == "running", timeout=30, what="the event to run")
    for pid in workers.children():
        os.kill(pid, signal.SIGKILL)
    ended = wait_ended(api, rid, timeout=60)
    assert ended["status"] == "succeeded"
    assert ended["systemRetries"] >= 1 and ended["lastError"]["errorType"] == "WorkerLost"
    assert ended["result"].startswith("slept")
    wait_for(lambda: len(workers.children()) == 2, timeout=30, what="the supervisor to restart its workers")


def _exited(pid: int) -> bool:
    """Whether the process is gone or a zombie its parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_worker_stopped_when_told_to_stop_stops_once_continued(api, fn_name, stack):
    """A TERM sent to a stopped worker process (SIGSTOP: a paused VM, a frozen cgroup) is handed by the kernel to
    whichever of its threads wakes first; the worker must heed it at once, not when its drain's budget ends."""
    _, workers = stack
    api.deploy(fn_name, slow_echo(1))
    rid = submit(api, fn_name, b"under way")
    wait_for(lambda: status(api, rid)["status"] == "running", timeout=30, what="the event to run")
    children = workers.children()
    assert len(children) == 2, children
    for pid in children:  # a drain under way in one of them: its threads wait on Redis, its main thread on them
        os.kill(pid, signal.SIGSTOP)
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    for pid in children:
        os.kill(pid, signal.SIGCONT)
    # A drain runs for DRAIN_BUDGET_S (60 s): within half of it, the TERM was heeded and not the budget's end.
    wait_for(lambda: all(_exited(pid) for pid in children), timeout=30, what="the continued workers to exit")
    assert wait_ended(api, rid, timeout=60)["status"] == "succeeded"
    wait_for(lambda: len(workers.children()) == 2, timeout=30, what="the supervisor to restart its workers")


def test_control_plane_restart_with_events_queued(stack, fn_name):
    plat, _ = stack
    api = plat.api
    api.deploy(fn_name, slow_echo(0.2))
    ids = [submit(api, fn_name, str(i).encode()) for i in range(20)]
    plat.stop()
    time.sleep(1)  # an outage, not a wait: its length does not decide the outcome
    plat.start()
    results = {rid: wait_ended(plat.api, rid, timeout=90) for rid in ids}
    assert all(r["status"] == "succeeded" for r in results.values()), \
        [(r["status"], r.get("lastError"), r.get("error")) for r in results.values() if r["status"] != "succeeded"][:2]
    assert sorted(int(r["result"]) for r in results.values()) == list(range(20))


def test_redis_restart_loses_nothing(docker_client, tmp_path, fn_name):
    """A Redis of its own, restarted (SIGTERM, AOF on) while events are queued and running."""
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--save", "",
           "--dir", str(data)]
    redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    wait_for(lambda: redis_answers("127.0.0.1", port), timeout=30, what="redis-server")
    plat = PlatformProcess(f"redis://127.0.0.1:{port}/0", tmp_path / "server.log", **FAST)
    workers = WorkerProcess(plat)
    try:
        plat.start()
        workers.start()
        api = plat.api
        api.deploy(fn_name, slow_echo(0.1))
        ids = [submit(api, fn_name, str(i).encode()) for i in range(30)]
        redis_proc.send_signal(signal.SIGTERM)
        redis_proc.wait(timeout=30)
        time.sleep(1)  # an outage, not a wait: its length does not decide the outcome
        redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        results = {rid: wait_ended(api, rid, timeout=120) for rid in ids}
        assert all(r["status"] == "succeeded" for r in results.values()), results
        assert sorted(int(r["result"]) for r in results.values()) == list(range(30))
    finally:
        workers.stop()
        left = _clean_up(docker_client, plat)
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
    assert not left
