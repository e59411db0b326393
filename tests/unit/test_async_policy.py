import os
import pathlib
import subprocess
import sys

import pytest

from faas.models import FunctionRecord, FunctionSpec, FunctionState
from faas.queue import events as ev
from faas.queue.keys import Keys
from faas.queue.policy import (
    TERMINAL,
    Condition,
    EventStatus,
    Kind,
    classify,
    expired,
    function_retry_delay,
    system_retry_delay,
)

PLATFORM = pathlib.Path(__file__).resolve().parents[2] / "platform"


@pytest.mark.parametrize("status,header,kind", [
    (200, None, Kind.SUCCESS),
    (200, "HandledInvocationError", Kind.FUNCTION_ERROR),
    (200, "UnhandledInvocationError", Kind.FUNCTION_ERROR),
    (429, None, Kind.SYSTEM_ERROR),
    (409, None, Kind.SYSTEM_ERROR),  # the same request id runs elsewhere: a duplicate of this event
    (503, None, Kind.SYSTEM_ERROR),
    (500, None, Kind.SYSTEM_ERROR),
    (None, None, Kind.SYSTEM_ERROR),
    (404, None, Kind.FATAL),
    (400, None, Kind.FATAL),
    (413, None, Kind.FATAL),
])
def test_classify(status, header, kind):
    assert classify(status, header) is kind


def test_function_retries_grow():
    assert [function_retry_delay(n, 0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_system_retries_grow_with_jitter_and_a_cap():
    for n in range(1, 15):
        delay = system_retry_delay(n, 1.0, 300.0)
        base = min(300.0, 2 ** (n - 1))
        assert base <= delay <= min(300.0, base + 1.0)
    assert system_retry_delay(40, 1.0, 300.0) == 300.0
    assert system_retry_delay(100_000, 1.0, 300.0) == 300.0  # no overflow however long it has failed


def test_expired():
    assert not expired(100.0, None, 10_000.0)
    assert not expired(100.0, 60, 150.0)
    assert expired(100.0, 60, 161.0)


def record(**spec):
    return FunctionRecord(spec=FunctionSpec.from_api({"name": "f", **spec}), state=FunctionState.ACTIVE, revision=1,
                          code_sha256=None, image="i", created_at=0.0, updated_at=0.0)


def test_new_event_snapshots_the_async_settings():
    fields = ev.new_event(record(timeoutSeconds=7, **{"async": {"retries": 1, "maxEventAgeSeconds": 30,
                                                                 "onSuccess": "queue:ok"}}), b"e", 5.0)
    assert fields["status"] == "queued" and fields["event"] == b"e" and fields["timeout"] == "7"
    assert (fields["retries"], fields["maxEventAge"], fields["onSuccess"], fields["onFailure"]) == \
        ("1", "30", "queue:ok", "queue:dead-letter")


def test_destination_record_follows_fc():
    rec = ev.destination_record("r1", "f", Condition.RETRIES_EXHAUSTED, 4, b"\xff\x00", 200,
                                "HandledInvocationError", b'{"errorType": "X"}', 1.5)
    assert rec["timestamp"] == 1500
    assert rec["requestContext"] == {"requestId": "r1", "functionName": "f", "condition": "RetriesExhausted",
                                     "approximateInvokeCount": 4}
    assert rec["requestPayload"] == "/wA=" and rec["requestPayloadEncoding"] == "base64"
    assert rec["responseContext"] == {"statusCode": 200, "functionError": "HandledInvocationError"}
    assert rec["responsePayload"] == '{"errorType": "X"}'


def test_event_view_to_api():
    view = ev.EventView({b"function": b"f", b"status": b"succeeded", b"attempts": b"2", b"acceptedAt": b"1.0",
                         b"result": b"ok", b"resultType": b"text/plain", b"lastError": b'{"errorType": "E"}'})
    api = view.to_api("r1")
    assert api["status"] == "succeeded" and api["attempts"] == 2 and api["acceptedAt"] == 1.0
    assert api["result"] == "ok" and api["lastError"] == {"errorType": "E"} and api["endedAt"] is None


class RecordingPipe:
    """Stands for a MULTI pipeline: records the commands added to it."""

    def __init__(self):
        self.commands = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.commands.append((name, args, kwargs))


def test_schedule_retry_moves_the_event_from_its_holder_to_delayed():
    keys = Keys("p")
    pipe = RecordingPipe()
    ev.schedule_retry(pipe, keys, "r1", Kind.SYSTEM_ERROR, 20.5, '{"errorType": "E"}', 10.0,
                      holder="p:async:inflight:w", systemRetries="3")
    assert pipe.commands == [
        ("lrem", ("p:async:inflight:w", 0, "r1"), {}),
        ("hset", ("p:inv:r1",), {"mapping": {"status": "retrying", "nextAttemptAt": "20.5", "updatedAt": "10.0",
                                             "lastError": '{"errorType": "E"}', "systemRetries": "3"}}),
        ("zadd", ("p:async:delayed", {"r1": 20.5}), {}),
        ("hincrby", ("p:async:stats", "retry:system_error", 1), {}),
    ]
    alone = RecordingPipe()
    ev.schedule_retry(alone, keys, "r2", Kind.FUNCTION_ERROR, 1.0, "{}", 0.5)
    # held by no list: nothing to take it from
    assert [name for name, *_ in alone.commands] == ["hset", "zadd", "hincrby"]


def test_statuses_compare_with_what_redis_gives_back():
    assert "failed" in TERMINAL and "running" not in TERMINAL
    assert EventStatus("retrying") is EventStatus.RETRYING
    assert ev.new_event(record(), b"", 0.0)["status"] == "queued"


def test_the_control_plane_does_not_load_the_worker_side():
    """The API's modules wake workers with faas.queue.kick: the runner (and its HTTP client) is the workers'."""
    code = "import sys, faas.api; sys.exit('faas.queue.runner' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYTHONPATH": str(PLATFORM)})
    assert done.returncode == 0
