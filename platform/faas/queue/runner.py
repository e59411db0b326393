"""Runs async events in a worker process: claims them from `ready`, invokes the function through the
control plane (which owns the containers), and records the outcome: done, retry later, or a destination."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextvars import ContextVar

import redis
import requests
from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

from ..auth import PLATFORM_HEADER, platform_secret
from ..config import Settings
from ..defaults import LATEST
from ..models import FunctionRecord, new_request_id
from ..redisconn import connect
from ..store import function_key
from . import events as ev
from . import streams
from .keys import Keys
from .kick import DRAIN_TOKEN_TTL_S, kick
from .policy import TERMINAL, Condition, EventStatus, Kind, classify, expired, function_retry_delay, system_retry_delay

log = logging.getLogger(__name__)

DRAIN_BUDGET_S = 60.0
"""Seconds one drain job takes new events before it hands over to a fresh job."""

SIGNAL_CHECK_S = 0.5
"""How often the main thread of a drain wakes, so that a signal's handler runs (see `drain`)."""

TOKEN_REFRESH_S = 2.0
"""How often a running drain renews the drain token."""

S = EventStatus

SECRET_REFRESH_S = 30.0
"""Seconds a worker trusts the platform secret it read (a 403 from the control plane has it read again)."""


class EventRunner:
    """One per worker process: its identity, its lease, its connections."""

    def __init__(self, settings: Settings, conn: redis.Redis | None = None):
        self.settings = settings
        self.keys = Keys(settings.redis_prefix)
        self.conn = conn or connect(settings)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.inflight = self.keys.inflight(self.id)
        self.http = requests.Session()
        if settings.client_token:
            self.http.headers["Authorization"] = f"Bearer {settings.client_token}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=settings.worker_concurrency * 2)
        self.http.mount("http://", adapter)
        self.control = settings.control_plane_url
        self.stopping = False
        """Set from a signal handler: a plain flag, since taking a lock there can deadlock."""
        self._heartbeat: threading.Thread | None = None
        self._begin = self.conn.register_script(ev.BEGIN)
        self._secret, self._secret_read_at = "", -SECRET_REFRESH_S

    # -- lease
    def start(self) -> None:
        self.renew_lease()
        self.conn.sadd(self.keys.workers, self.id)
        self._heartbeat = threading.Thread(target=self._beat, name="lease", daemon=True)
        self._heartbeat.start()

    def renew_lease(self) -> None:
        self.conn.set(self.keys.lease(self.id), "1", px=int(self.settings.worker_lease * 1000))

    def _beat(self) -> None:
        while not self._sleep(self.settings.worker_lease / 3):
            try:
                self.renew_lease()
            except redis.RedisError as exc:
                log.warning("Worker %s: lease renewal failed: %s", self.id, exc)

    def stop(self) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early when stopping; True when stopping."""
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
        return self.stopping

    def _wait(self, seconds: float) -> None:
        """tenacity's sleep between tries: `_sleep`, whose answer its `stop` reads from `stopping` itself."""
        self._sleep(seconds)

    # -- draining
    def drain(self, budget: float = DRAIN_BUDGET_S) -> int:
        """Run ready events with `worker_concurrency` threads for `budget` seconds. The threads wait on
        `ready` (an event pushed meanwhile starts at once) and the drain token is renewed while they do."""
        deadline = time.monotonic() + budget
        done = [0]
        renewed = [0.0]

        def work() -> None:
            while time.monotonic() < deadline and not self.stopping:
                try:
                    if time.monotonic() - renewed[0] > TOKEN_REFRESH_S:
                        renewed[0] = time.monotonic()
                        self.conn.set(self.keys.drain, "1", ex=DRAIN_TOKEN_TTL_S)
                    raw = self.conn.blmove(self.keys.ready, self.inflight, 1, "RIGHT", "LEFT")
                except redis.RedisError as exc:
                    log.warning("Worker %s: cannot take events: %s", self.id, exc)
                    self._sleep(1)
                    continue
                if raw is None:
                    continue
                request_id = raw.decode()
                try:
                    self.run(request_id)
                except Exception as exc:  # Redis went away mid-event, or a bug: give the event back
                    log.warning("Worker %s: event %s interrupted (%s); it will run again", self.id, request_id, exc)
                    self.give_back(request_id, f"{type(exc).__name__}: {exc}")
                done[0] += 1

        with ThreadPoolExecutor(self.settings.worker_concurrency, thread_name_prefix="event") as pool:
            running = {pool.submit(work) for _ in range(self.settings.worker_concurrency)}
            # The main thread waits in short steps, never in one join: Python runs a signal's handler on the main
            # thread only, once that thread wakes, and the kernel may hand a TERM to another thread (it does for a
            # TERM sent while the process was stopped). One long join kept such a TERM unheeded for the whole
            # budget.
            while running:
                running = wait(running, timeout=SIGNAL_CHECK_S).not_done
        # Hand over: release the token, and take it again at once if events arrived meanwhile.
        self.conn.delete(self.keys.drain)
        if self.conn.llen(self.keys.ready):
            kick(self.conn, self.keys)
        return done[0]

    def _platform_secret(self) -> str:
        """The platform secret (X-Faas-Platform), read from Redis at most every SECRET_REFRESH_S."""
        now = time.monotonic()
        if now - self._secret_read_at >= SECRET_REFRESH_S:
            self._secret = platform_secret(self.conn, self.settings.redis_prefix)
            self._secret_read_at = now
        return self._secret

    # -- one event
    def run(self, request_id: str) -> None:
        key = self.keys.invocation(request_id)
        secret = self._platform_secret()  # (read before the event's state changes, as its record is)
        rec = ev.EventView(self.conn.hgetall(key))
        status = rec.get("status")
        if not rec.fields or status in TERMINAL:  # a duplicate after a crash, or an expired record
            self.conn.lrem(self.inflight, 0, request_id)
            return
        now = time.time()
        accepted = rec.number("acceptedAt") or now
        max_age = rec.number("maxEventAge")
        if ev.STOP_REQUESTED.encode() in rec.fields:
            self.finish(request_id, rec, S.STOPPED, Condition.STOPPED, None, None, None, now)
            return
        if expired(accepted, max_age, now):
            self.finish(request_id, rec, S.FAILED, Condition.EVENT_AGE_EXCEEDED, None, None, None, now)
            return
        attempt = int(self._begin(keys=[key], args=[repr(now), self.id]))
        if attempt == 0:  # it ended meanwhile
            self.conn.lrem(self.inflight, 0, request_id)
            return
        if attempt < 0:  # its stop was asked for meanwhile
            self.finish(request_id, rec, S.STOPPED, Condition.STOPPED, None, None, None, now)
            return
        function = rec.get("function")
        timeout = float(rec.get("timeout") or 60) + 60
        headers = {"X-Fc-Invocation-Type": "Sync", "X-Fc-Request-Id": request_id, "X-Fc-Attempt": str(attempt),
                   PLATFORM_HEADER: secret}
        if rec.get("trigger"):
            headers["X-Faas-Trigger"] = rec.get("trigger")
        version = rec.get("version", LATEST)
        query = "" if version == LATEST else f"?qualifier={version}"  # the version chosen when it was accepted
        try:
            resp = self.http.post(f"{self.control}/v1/functions/{function}/invocations{query}",
                                  data=rec.fields[b"event"],
                                  headers=headers, timeout=(5, timeout))
            status_code, error, body = resp.status_code, resp.headers.get("X-Fc-Error-Type"), resp.content
            if status_code == 403:  # the secret was made anew (a Redis that lost it): read it again next time
                self._secret_read_at = -SECRET_REFRESH_S
        except requests.RequestException as exc:
            status_code, error, body = None, None, json.dumps({"errorType": "ControlPlaneUnreachable",
                                                               "errorMessage": str(exc)}).encode()
        kind = classify(status_code, error)
        now = time.time()
        if kind is Kind.SUCCESS:
            self.finish(request_id, rec, S.SUCCEEDED, Condition.SUCCESS, 200, None, body, now,
                        content_type=resp.headers.get("Content-Type", ""))
        elif kind is Kind.FUNCTION_ERROR:
            failures, stopping = self._count(key, "functionErrors")
            if stopping:
                self.finish(request_id, rec, S.STOPPED, Condition.STOPPED, 200, error, body, now)
            elif failures <= int(rec.get("retries") or 0):
                delay = function_retry_delay(failures, self.settings.function_retry_base)
                self.retry_later(request_id, Kind.FUNCTION_ERROR, now + delay, _error_json(body), now)
            else:
                self.finish(request_id, rec, S.FAILED, Condition.RETRIES_EXHAUSTED, 200, error, body, now)
        elif kind is Kind.SYSTEM_ERROR:
            retries, stopping = self._count(key, "systemRetries")
            due = now + self.system_delay(retries)
            if stopping:
                self.finish(request_id, rec, S.STOPPED, Condition.STOPPED, status_code, None, body, now)
            elif expired(accepted, max_age, due):
                self.finish(request_id, rec, S.FAILED, Condition.EVENT_AGE_EXCEEDED, status_code, None, body, now)
            else:
                self.retry_later(request_id, Kind.SYSTEM_ERROR, due, _error_json(self._system_error(status_code, body)),
                                 now)
        else:
            condition = Condition.FUNCTION_NOT_FOUND if status_code == 404 else Condition.REJECTED
            self.finish(request_id, rec, S.FAILED, condition, status_code, None, body, now)

    def _count(self, key: str, field: str) -> tuple[int, bool]:
        """Count one more of `field` in the event's record; the count, and whether its stop was asked for (a stop
        asked for after this read is seen when the retry starts: see events.BEGIN)."""
        with self.conn.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, field, 1)
            pipe.hexists(key, ev.STOP_REQUESTED)
            count, stopping = pipe.execute()
        return int(count), bool(stopping)

    def system_delay(self, retries: int) -> float:
        return system_retry_delay(retries, self.settings.system_retry_initial, self.settings.system_retry_max_wait)

    def give_back(self, request_id: str, reason: str) -> None:
        """Return an event this worker holds to `delayed` as a system retry; keep trying while Redis is away,
        until the worker stops (then its lease runs out and the sweeper takes the event back)."""
        retrying = Retrying(retry=retry_if_exception_type(redis.RedisError), wait=wait_exponential_jitter(max=5),
                            stop=lambda _: self.stopping, sleep=self._wait, reraise=True)
        with contextlib.suppress(redis.RedisError):
            retrying(self._give_back, request_id, reason)

    def _give_back(self, request_id: str, reason: str) -> None:
        retries = int(self.conn.hget(self.keys.invocation(request_id), "systemRetries") or 0) + 1
        now = time.time()
        self.retry_later(request_id, Kind.SYSTEM_ERROR, now + self.system_delay(retries),
                         ev.error_json("WorkerInterrupted", reason), now, systemRetries=str(retries))

    @staticmethod
    def _system_error(status_code: int | None, body: bytes) -> bytes:
        try:
            error = json.loads(body).get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):  # the platform's error shape: keep its code and message
            return json.dumps({"errorType": error.get("code"), "errorMessage": error.get("message"),
                               "statusCode": status_code}).encode()
        return body

    def retry_later(self, request_id: str, kind: Kind, due: float, last_error: str, now: float,
                    **fields: str) -> None:
        with self.conn.pipeline(transaction=True) as pipe:
            ev.schedule_retry(pipe, self.keys, request_id, kind, due, last_error, now, holder=self.inflight,
                              **fields)
            pipe.execute()

    def finish(self, request_id: str, rec: ev.EventView, status: EventStatus, condition: Condition,
               status_code: int | None, function_error: str | None, body: bytes | None, now: float,
               content_type: str = "") -> None:
        """End the event: its record, its destination and its removal from every list, in one transaction."""
        key = self.keys.invocation(request_id)
        target = rec.get("onSuccess") if status is S.SUCCEEDED else rec.get("onFailure")
        if status is S.STOPPED:  # its caller wanted it gone, not reported
            target = ""
        attempts = int(self.conn.hget(key, "attempts") or 0)
        record = ev.destination_record(request_id, rec.get("function"), condition, attempts,
                                       rec.fields.get(b"event", b""), status_code, function_error, body, now)
        fields: dict[str, str | bytes] = {"status": status.value, "condition": condition.value, "endedAt": repr(now),
                                          "updatedAt": repr(now), "destination": target or ""}
        if status is S.SUCCEEDED and body is not None:
            fields |= {"result": body, "resultType": content_type}
        elif body:
            fields["lastError"] = _error_json(body)
        chained = self._chained_event(target, record, now) if target else None
        with self.conn.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.hdel(key, "nextAttemptAt")
            pipe.expire(key, self.settings.result_ttl)
            if target:
                kind, name = ev.parse_destination(target)
                if kind == "queue":  # never trimmed to make room: see streams.py
                    pipe.xadd(self.keys.destination(name), {"record": json.dumps(record)})
                    pipe.sadd(self.keys.queues, name)
                elif chained is not None:
                    ev.queue_event(pipe, self.keys, *chained)
            ack_ids = rec.get("ackIds").split()
            if ack_ids:  # a queue trigger's batch: its messages are done with only now, and its copy of them
                pipe.xack(rec.get("ackStream"), rec.get("ackGroup"), *ack_ids)
                pipe.hdel(key, "event")
            pipe.zrem(self.keys.pending, request_id)
            pipe.lrem(self.inflight, 0, request_id)
            pipe.hincrby(self.keys.stats, f"ended:{status.value}:{condition.value}", 1)
            pipe.execute()
        if ack_ids:  # what every trigger of the queue has taken leaves it
            self.conn.eval(streams.TRIM, 1, rec.get("ackStream"), "")
        if chained is not None:
            kick(self.conn, self.keys)

    def _chained_event(self, target: str, record: dict, now: float) -> tuple[str, dict, float] | None:
        """A new async event for a `function:<name>` destination; None for a queue (or a dead-letter fallback)."""
        kind, name = ev.parse_destination(target)
        if kind != "function":
            return None
        raw = self.conn.get(function_key(self.settings.redis_prefix, name))
        if raw is None:
            log.warning("Destination function %s does not exist: record goes to queue:dead-letter", name)
            with self.conn.pipeline(transaction=True) as pipe:
                undelivered = json.dumps(record | {"undeliveredTo": target})
                pipe.xadd(self.keys.destination("dead-letter"), {"record": undelivered})
                pipe.sadd(self.keys.queues, "dead-letter")
                pipe.execute()
            return None
        function = FunctionRecord.from_api(json.loads(raw))
        return new_request_id(), ev.new_event(function, json.dumps(record).encode(), now), now


def _error_json(body: bytes) -> str:
    try:
        doc = json.loads(body)
        if isinstance(doc, dict):
            return json.dumps(doc)
    except ValueError:
        pass
    return json.dumps({"errorMessage": body.decode("utf-8", "replace")[:4096]})


CURRENT: ContextVar[EventRunner | None] = ContextVar("faas_event_runner", default=None)
"""The runner of the faas-worker running the job now: the worker holds it, and sets it here for the length
of each job (RQ calls a job by its function's name, with no way to hand it the worker)."""


@contextlib.contextmanager
def _runner() -> Iterator[EventRunner]:
    """The worker's runner; in a worker that is not faas-worker (RQ's stock one), one for this job."""
    runner = CURRENT.get()
    if runner is not None:
        yield runner
        return
    runner = EventRunner(Settings.from_env())
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()
        runner.conn.delete(runner.keys.lease(runner.id))  # it holds nothing now: no need to wait for the TTL


def drain() -> int:
    """The RQ job: run ready events until none is left (or the budget is spent)."""
    with _runner() as runner:
        return runner.drain()


def run_one_event() -> bool:
    """An RQ job that runs a single ready event: the one-job-per-event way (the benchmark's baseline)."""
    with _runner() as runner:
        raw = runner.conn.lmove(runner.keys.ready, runner.inflight, "RIGHT", "LEFT")
        if raw is None:
            return False
        runner.run(raw.decode())
        return True
