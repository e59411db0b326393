"""One invocation's hold on a container: its request id claimed, the container acquired and released, its log
told which request runs there, its REPORT line written, its outcome and cold start counted."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

from ..errors import RequestIdInUse, ServiceUnavailable
from ..logs.reports import LogChannel
from ..metrics import Metrics
from ..models import FunctionRecord
from .calls import ContainerCalls
from .cgroup import read_peak_mb
from .containers import Containers
from .function_pool import FunctionPool
from .outcome import KILLED, NOT_DELIVERED, UNHANDLED, InitFailed, Lease, Outcome
from .warmth import KeepWarm

log = logging.getLogger(__name__)

DELIVERY_TRIES = 3
"""Containers an invocation is offered to when the ones before were dead before its request reached them."""


class Invocations:
    def __init__(self, containers: Containers, calls: ContainerCalls, metrics: Metrics, logs: LogChannel | None):
        self.containers, self.calls, self.metrics, self.logs = containers, calls, metrics, logs
        self.keep_warm = KeepWarm(containers)
        self._running: set[str] = set()
        """Request ids of the invocations under way: one id is one invocation's log."""

    async def invoke(self, pool: FunctionPool, record: FunctionRecord, event: bytes, request_id: str,
                     attempt: int = 1, trigger: str | None = None) -> Outcome:
        """Run one invocation in `pool` (serving `record`). `trigger` ("<type>/<name>") names the trigger that
        caused it, for its log."""
        self._claim_request_id(request_id)
        try:
            return await self._invoke(pool, record, event, request_id, attempt, trigger)
        finally:
            self._running.discard(request_id)

    async def _invoke(self, pool: FunctionPool, record: FunctionRecord, event: bytes, request_id: str,
                      attempt: int, trigger: str | None) -> Outcome:
        t0 = time.monotonic()
        self.keep_warm.arrive(pool, t0)  # one arrival and one rest per invocation, whatever its tries
        try:
            for _ in range(DELIVERY_TRIES):
                # (the hold spelled out rather than `async with self._hold(...)`: an async generator's context
                # manager costs a few per cent of a warm invocation)
                try:
                    lease = await self._acquire(pool, request_id, t0)
                except InitFailed as exc:
                    if exc.outcome.error_type == KILLED:
                        raise ServiceUnavailable(json.loads(exc.outcome.body)["errorMessage"]) from None
                    return exc.outcome
                lease.error = UNHANDLED  # until it answers: a call cut short leaves its container unusable
                try:
                    outcome, reply = await self.calls.invoke(lease.instance, event, request_id, attempt)
                    lease.error = outcome.error
                finally:
                    self._release(pool, lease, request_id)
                if outcome is not NOT_DELIVERED:
                    break
                log.info("Function %s: container %s died before request %s reached it; offering it to another",
                         record.name, lease.instance.id, request_id)
            else:
                raise ServiceUnavailable(f"{DELIVERY_TRIES} containers of function {record.name} died before the "
                                         "request reached them")
        finally:
            self.keep_warm.rest(pool, time.monotonic())
        inst = lease.instance
        quiet = reply is not None and reply.quiet
        max_used = reply.max_memory_mb if reply else None
        if max_used is None:  # a custom container does not say: its cgroup does
            max_used = read_peak_mb(inst.memory_file)
        report = self._report(record, request_id, lease, max_used, quiet, trigger)
        outcome = Outcome(outcome.body, outcome.content_type, outcome.error, outcome.error_type, lease.cold_start,
                          inst.id, report, quiet)
        self.metrics.invocation(record.name, outcome, time.monotonic() - t0)
        if outcome.error_type == KILLED:  # not the function's doing: a platform error, retried as one
            raise ServiceUnavailable(json.loads(outcome.body)["errorMessage"])
        return outcome

    @contextlib.asynccontextmanager
    async def lease(self, pool: FunctionPool, record: FunctionRecord, request_id: str,
                    trigger: str | None = None) -> AsyncIterator[Lease]:
        """Hold a container of `record` (started if none is free) while the caller talks to it, as one
        invocation: counted, logged with a REPORT line, limited like any other. InitFailed when a new
        container's initializer failed; the holder marks the lease failed to have the container removed."""
        self._claim_request_id(request_id)
        lease = None
        try:
            t0 = time.monotonic()
            async with self._hold(pool, request_id, t0) as lease:
                yield lease
        finally:
            self._running.discard(request_id)
            if lease is not None:
                # quiet: a web function's output carries no invocation markers, so its log is this line
                self._report(record, request_id, lease, read_peak_mb(lease.instance.memory_file), True, trigger)
                self.metrics.invocation(record.name, lease, time.monotonic() - t0)

    @contextlib.asynccontextmanager
    async def _hold(self, pool: FunctionPool, request_id: str, t0: float) -> AsyncIterator[Lease]:
        """A claimed container for one call (see _acquire), released after (see _release)."""
        self.keep_warm.arrive(pool, t0)
        try:
            lease = await self._acquire(pool, request_id, t0)
            try:
                yield lease
            finally:
                self._release(pool, lease, request_id)
        finally:
            self.keep_warm.rest(pool, time.monotonic())

    async def _acquire(self, pool: FunctionPool, request_id: str, t0: float) -> Lease:
        """A claimed container for one call, its log told which request runs there. InitFailed, counted, when a
        new container's initializer failed (`t0`: when the invocation began)."""
        try:
            inst = await self.containers.acquire(pool)
        except InitFailed as exc:
            self.metrics.invocation(pool.name, exc.outcome, time.monotonic() - t0)
            raise
        lease = Lease(inst, cold_start=not inst.warmed, started=time.monotonic())
        inst.warmed = True
        if inst.prewarmed:
            inst.prewarmed = False
            self.metrics.prewarm(pool.name, "served")
        if self.logs is not None:
            self.logs.begin(inst.container_id, request_id)
        return lease

    def _release(self, pool: FunctionPool, lease: Lease, request_id: str) -> None:
        """The call is over: the container goes back (removed when the holder marked the lease UNHANDLED)."""
        lease.ended = time.monotonic()
        inst = lease.instance
        self.containers.release(pool, inst, discard=lease.error == UNHANDLED)
        if self.logs is not None:
            self.logs.end(inst.container_id, request_id)

    def _report(self, record: FunctionRecord, request_id: str, lease: Lease, max_used_mb: int | None, quiet: bool,
                trigger: str | None) -> str:
        """The call's REPORT line (sent to its log), and its cold start counted."""
        if lease.cold_start:
            self.metrics.cold_start(record.name, lease.instance.start_path)
        if self.logs is None:
            return ""
        inst = lease.instance
        # final: no End marker will come to close the log (the container is gone)
        return self.logs.report(request_id, record.name, (lease.ended - lease.started) * 1000, inst.memory_mb,
                                max_used_mb, inst.init_ms if lease.cold_start else None, quiet=quiet,
                                final=lease.error == UNHANDLED, trigger=trigger, version=record.version_id)

    def _claim_request_id(self, request_id: str) -> None:
        """Mark `request_id` running (the caller discards it from `_running` when it ends): one id is one
        invocation's log, so a second invocation with it is refused while the first runs."""
        if request_id in self._running:
            raise RequestIdInUse(f"an invocation with request id {request_id} is running")
        self._running.add(request_id)
