"""The pool manager's concurrent cases, with a fake Docker host and a fake runtime (no Docker, no containers).

Each fake keeps what happened (started, removed, which container served which call) and can hold an
operation until the test lets it go, so that the interleavings the Docker-backed tests reach only by luck
are made on purpose here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest

from faas.config import Settings
from faas.docker_host import LABEL_FUNCTION, ContainerStatus, StartedContainer
from faas.errors import ContainerStartFailed, FunctionNotFound, ServiceUnavailable
from faas.metrics import Metrics
from faas.models import FunctionRecord, FunctionSpec, FunctionState
from faas.pool.client import RuntimeReply
from faas.pool.keepalive import Decision, Rule
from faas.pool.manager import PoolManager
from faas.pool.state import ContainerState
from helpers import ScriptedPolicy

S = ContainerState


class Gate:
    """Holds the callers of an operation until opened (open by default)."""

    def __init__(self):
        self.event = asyncio.Event()
        self.event.set()
        self.waiting = 0

    def close(self) -> None:
        self.event.clear()

    def open(self) -> None:
        self.event.set()

    async def pass_(self) -> None:
        self.waiting += 1
        try:
            await self.event.wait()
        finally:
            self.waiting -= 1


class FakeHost:
    """The DockerHost calls the pool makes, over a dict of containers."""

    def __init__(self):
        self.containers: dict[str, dict] = {}
        self.started: list[str] = []
        self.removed: list[str] = []
        self.start_gate = Gate()
        self.list_gate = Gate()
        self.pause_gate = Gate()
        self.fail_starts = 0
        self.break_starts = 0
        self.fail_unpauses = 0
        self.removed_paused: list[str] = []
        self.on_event = None
        self._ids = itertools.count(1)

    async def ensure_network(self, name: str) -> None:
        pass

    def watch(self, labels, actions, on_event, loop) -> None:
        self.on_event = on_event

    async def start_container(self, config) -> StartedContainer:
        await self.start_gate.pass_()
        if self.fail_starts:
            self.fail_starts -= 1
            raise ContainerStartFailed("the engine refused to start it")
        if self.break_starts:
            self.break_starts -= 1
            raise AttributeError("a bug in a start")
        cid = f"{next(self._ids):012x}".ljust(64, "0")  # distinct in its first 12 digits, as Docker ids are
        self.containers[cid] = {"labels": dict(config.labels), "running": True, "paused": False,
                                "created": time.time()}
        self.started.append(cid)
        return StartedContainer(id=cid, address="10.0.0.1", pid=0)

    async def list_containers(self, labels) -> list[ContainerStatus]:
        found = [self._status(cid) for cid, c in self.containers.items()
                 if all(c["labels"].get(k) == v for k, v in labels.items())]
        await self.list_gate.pass_()  # what it says is as of the call, as Docker's answer is
        return found

    def _status(self, cid: str) -> ContainerStatus:
        c = self.containers[cid]
        return ContainerStatus(id=cid, running=c["running"], exit_code=None if c["running"] else 137,
                               oom_killed=False, labels=c["labels"], created=c["created"], paused=c["paused"])

    async def status(self, cid: str) -> ContainerStatus | None:
        return self._status(cid) if cid in self.containers else None

    async def running(self, cid: str) -> StartedContainer | None:
        return StartedContainer(id=cid, address="10.0.0.1") if cid in self.containers else None

    async def wait_exit(self, cid: str, timeout: float) -> None:
        pass

    async def kill(self, cid: str, thaw: bool = False) -> None:
        if thaw and cid in self.containers:
            self.containers[cid]["paused"] = False
        if self.containers.get(cid, {}).get("paused"):  # as a forced removal, Docker's kill can hang on it
            self.removed_paused.append(cid)
        if cid in self.containers:
            self.containers[cid]["running"] = False

    async def remove_container(self, cid: str, thaw: bool = False) -> None:
        if thaw and cid in self.containers:
            self.containers[cid]["paused"] = False
        if self.containers.get(cid, {}).get("paused"):  # Docker's forced removal of a paused container can hang
            self.removed_paused.append(cid)
        self.removed.append(cid)
        self.containers.pop(cid, None)

    async def pause(self, cid: str) -> None:
        await self.pause_gate.pass_()
        self.containers[cid]["paused"] = True

    async def unpause(self, cid: str) -> None:
        if self.fail_unpauses:
            self.fail_unpauses -= 1
            raise ServiceUnavailable("Docker engine error: cannot unpause")
        self.containers[cid]["paused"] = False

    def die(self, cid: str) -> None:
        """The container exits, and Docker says so."""
        self.containers[cid]["running"] = False
        self.on_event("die", cid)


def reply(body: bytes, failed: bool = False) -> RuntimeReply:
    return RuntimeReply(status=200, body=body, content_type="application/json" if failed else "text/plain",
                        failed=failed, unhandled=failed)


class FakeRuntime:
    """The RuntimeClient calls the pool makes; `served` says which container ran each call."""

    def __init__(self, host: FakeHost):
        self.host = host
        self.invoke_gate = Gate()
        self.fail_inits = 0
        self.served: list[tuple[str, bytes]] = []
        self.hooks: list[tuple[str, str]] = []

    async def wait_ready(self, inst, timeout, alive) -> None:
        pass

    async def initialize(self, inst, headers, timeout) -> RuntimeReply:
        if self.fail_inits:
            self.fail_inits -= 1
            return reply(json.dumps({"errorType": "InitError", "errorMessage": "init failed"}).encode(), failed=True)
        return reply(b"")

    async def invoke(self, inst, event, headers, max_bytes, timeout, head=b"") -> RuntimeReply:
        # A container the pool has removed, or one that is frozen, must never be called.
        assert inst.container_id in self.host.containers, "called a removed container"
        assert not self.host.containers[inst.container_id]["paused"], "called a frozen container"
        await self.invoke_gate.pass_()
        self.served.append((inst.container_id, event))
        return reply(event)

    async def hook(self, inst, path, timeout=2.0) -> bool:
        self.hooks.append((inst.container_id, path))
        return True


def record(name: str = "f", revision: int = 1, **spec) -> FunctionRecord:
    spec = {"name": name, "memoryMB": 128, "initializer": "index.init", **spec}
    return FunctionRecord(spec=FunctionSpec.from_api(spec), state=FunctionState.ACTIVE, revision=revision,
                          code_sha256=None, image="img", created_at=0.0, updated_at=0.0, function_id=f"id-{name}")


async def until(condition, timeout: float = 2.0) -> None:
    """Let the loop run until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.001)


def run(scenario, **settings):
    """Run `scenario(pool, host, runtime)` on a manager with fakes; the pool is shut down after it."""
    options = {"host_memory_mb": 4096, "queue_timeout": 5.0, "reaper_interval": 3600, "health_interval": 3600}

    async def main():
        host = FakeHost()
        runtime = FakeRuntime(host)
        pool = PoolManager(Settings(**(options | settings)), host, runtime, Metrics())
        await pool.start([])
        try:
            await scenario(pool, host, runtime)
        finally:
            runtime.invoke_gate.open()
            host.start_gate.open()
            host.list_gate.open()
            host.pause_gate.open()
            await pool.shutdown()

    asyncio.run(main())


def test_a_failed_start_fails_exactly_one_waiter():
    async def scenario(pool, host, runtime):
        fn = record(maxInstances=1)
        runtime.fail_inits = 1
        first, second = await asyncio.gather(pool.invoke(fn, b"1", "r1"), pool.invoke(fn, b"2", "r2"))
        # One waiter gets the failed initializer's outcome; the other is served by the next container.
        outcomes = sorted([first, second], key=lambda o: o.error is None)
        assert outcomes[0].error_type == "InitError" and outcomes[1].error is None
        assert len(host.started) == 2 and host.removed == host.started[:1]
        await pool.settle()
        assert [i.state for i in pool.instances("f")] == [S.READY]

    run(scenario)


def test_a_start_the_engine_refuses_fails_one_waiter_and_the_next_start_serves_the_other():
    async def scenario(pool, host, runtime):
        fn = record(maxInstances=1)
        host.fail_starts = 1
        results = await asyncio.gather(pool.invoke(fn, b"1", "r1"), pool.invoke(fn, b"2", "r2"),
                                       return_exceptions=True)
        assert sum(isinstance(r, ContainerStartFailed) for r in results) == 1
        assert sum(getattr(r, "error", "x") is None for r in results) == 1

    run(scenario)


def test_a_start_that_fails_unexpectedly_fails_its_waiter_at_once():
    """A bug in a start (not a refusal the pool knows) still answers the request that waited for it, with a
    ServiceUnavailable now rather than a 429 at the queue timeout; the next call starts another."""
    async def scenario(pool, host, runtime):
        fn = record(maxInstances=1)
        host.break_starts = 1
        async with asyncio.timeout(5):  # (the queue timeout is longer: the answer must not wait for it)
            with pytest.raises(ServiceUnavailable, match="AttributeError"):
                await pool.invoke(fn, b"1", "r1")
        assert (await pool.invoke(fn, b"2", "r2")).error is None

    run(scenario, queue_timeout=30.0)


def test_delete_during_a_start():
    async def scenario(pool, host, runtime):
        fn = record()
        host.start_gate.close()
        call = asyncio.create_task(pool.invoke(fn, b"x", "r1"))
        await until(lambda: host.start_gate.waiting == 1)
        await pool.remove_function("f")
        with pytest.raises(FunctionNotFound):
            await call
        host.start_gate.open()  # the start finishes after its function went: its container goes too
        await pool.settle()
        assert pool.instances("f") == [] and host.started and host.containers == {}
        assert runtime.served == []

    run(scenario)


def test_update_during_an_invocation():
    async def scenario(pool, host, runtime):
        v1, v2 = record(revision=1), record(revision=2, environment={"A": "2"})
        await pool.invoke(v1, b"warm", "r0")
        (old,) = pool.instances("f")
        runtime.invoke_gate.close()
        running = asyncio.create_task(pool.invoke(v1, b"old", "r1"))
        await until(lambda: runtime.invoke_gate.waiting == 1)
        pool.sync_function(v2)
        assert old.state is S.DRAINING  # it finishes its call, and takes no other
        runtime.invoke_gate.open()
        new = await pool.invoke(v2, b"new", "r2")
        assert (await running).body == b"old" and new.body == b"new" and new.cold_start
        assert new.instance_id != old.id
        await pool.settle()
        assert old.container_id in host.removed and (old.container_id, "/pre-stop") in runtime.hooks
        assert [i.revision for i in pool.instances("f")] == [2]

    run(scenario)


def test_eviction_racing_a_claim():
    """Two functions, room for two containers: B's start evicts A's idle container, and A's request, made
    in the same turn, must get a container of its own, never the evicted one."""

    async def scenario(pool, host, runtime):
        a, b = record("a"), record("b")
        await pool.invoke(a, b"warm", "r0")
        (evicted,) = pool.instances("a")
        other = record("c")
        await pool.invoke(other, b"warm", "r1")  # the budget is full now
        results = await asyncio.gather(pool.invoke(b, b"b", "r2"), pool.invoke(a, b"a", "r3"))
        assert [r.body for r in results] == [b"b", b"a"] and all(r.error is None for r in results)
        await pool.settle()
        served_by = {event: cid for cid, event in runtime.served}
        assert evicted.container_id in host.removed  # B's start took its room
        assert evicted.container_id not in (served_by[b"b"], served_by[b"a"])
        assert pool.memory_used() <= 256

    run(scenario, host_memory_mb=256)


def test_a_claimed_container_is_never_evicted():
    async def scenario(pool, host, runtime):
        a, b = record("a"), record("b")
        await pool.invoke(a, b"warm", "r0")
        (held,) = pool.instances("a")
        runtime.invoke_gate.close()
        busy = asyncio.create_task(pool.invoke(a, b"a", "r1"))
        await until(lambda: runtime.invoke_gate.waiting == 1)
        waiting = asyncio.create_task(pool.invoke(b, b"b", "r2"))  # no room: A's only container is busy
        await asyncio.sleep(0.05)
        assert held.state is S.BUSY and held.container_id not in host.removed and not waiting.done()
        runtime.invoke_gate.open()
        await busy
        await pool.maintain()  # A's container is idle now: B's waiting request evicts it and starts its own
        assert (await waiting).body == b"b"

    run(scenario, host_memory_mb=128)


def test_reserved_replacement_during_a_health_pass():
    """The reserved container dies while a health pass waits for Docker's list: the event replaces it, and
    the pass, reading a list from before, must not start a second replacement or remove the new one."""

    async def scenario(pool, host, runtime):
        fn = record(reservedInstances=1)
        pool.sync_function(fn)
        await pool.settle()
        (first,) = pool.instances("f")
        assert first.reserved and first.state is S.READY
        host.list_gate.close()
        health = asyncio.create_task(pool.check_health())
        await until(lambda: host.list_gate.waiting == 1)
        host.die(first.container_id)
        host.list_gate.open()
        await health
        await pool.settle()
        (replacement,) = pool.instances("f")
        assert replacement is not first and replacement.reserved and replacement.state is S.READY
        assert len(host.started) == 2 and host.removed == [first.container_id]
        assert replacement.container_id in host.containers

    run(scenario)


def test_a_container_claimed_while_it_pauses_is_thawed_before_it_serves():
    async def scenario(pool, host, runtime):
        fn = record(pauseAfterSeconds=1)
        await pool.invoke(fn, b"warm", "r0")
        (inst,) = pool.instances("f")
        inst.last_used -= 2
        host.pause_gate.close()
        await pool.maintain()  # starts pausing it; Docker's pause is held
        await until(lambda: host.pause_gate.waiting == 1)
        assert inst.state is S.PAUSING
        call = asyncio.create_task(pool.invoke(fn, b"x", "r1"))
        await until(lambda: inst.state is S.THAWING)  # claimed while Pausing: it waits for the freeze to end
        host.pause_gate.open()
        outcome = await call  # then it is thawed, and only then called (the fake runtime checks)
        assert outcome.body == b"x" and not host.containers[inst.container_id]["paused"]
        assert inst.state is S.READY and inst.served == 2
        inst.last_used -= 2
        await pool.maintain()
        await until(lambda: inst.state is S.PAUSED)  # idle again, it is frozen, and only then Paused
        assert host.containers[inst.container_id]["paused"]

    run(scenario)


async def paused(pool, fn, request_id: str):
    """The one container of `fn`, invoked once and then left idle past its pauseAfterSeconds: Paused."""
    await pool.invoke(fn, b"warm", request_id)
    (inst,) = pool.instances("f")
    inst.last_used -= 2
    await pool.maintain()
    await until(lambda: inst.state is S.PAUSED)
    return inst


def test_a_container_that_cannot_be_thawed_is_replaced_for_every_claimer():
    async def scenario(pool, host, runtime):
        fn = record(pauseAfterSeconds=1, instanceConcurrency=2)
        frozen = await paused(pool, fn, "r0")
        host.fail_unpauses = 1
        results = await asyncio.gather(pool.invoke(fn, b"a", "r1"), pool.invoke(fn, b"b", "r2"))
        assert [r.body for r in results] == [b"a", b"b"] and all(r.error is None for r in results)
        await pool.settle()
        assert frozen.state is S.REMOVING and frozen.container_id in host.removed
        assert all(cid != frozen.container_id for cid, event in runtime.served if event in (b"a", b"b"))
        assert frozen.active == 0 and frozen not in pool.instances("f")

    run(scenario)


def test_a_paused_container_is_thawed_before_it_is_removed():
    """Reclaimed after its keep-alive, with its function deleted, or at shutdown: a paused container is unpaused
    first (Debian's docker.io can hang on every later call about a paused container killed or removed by force)."""
    async def scenario(pool, host, runtime):
        fn = record(pauseAfterSeconds=1, keepAliveSeconds=3)
        idle = await paused(pool, fn, "r0")
        idle.last_used -= 5  # past its keep-alive: reclaimed
        await pool.maintain()
        await pool.settle()
        assert idle.container_id in host.removed and host.removed_paused == []
        second = await paused(pool, fn, "r1")
        await pool.remove_function("f")
        await pool.settle()
        assert second.container_id in host.removed and host.removed_paused == []
        third = await paused(pool, fn, "r2")
        await pool.shutdown()  # killed, then removed: thawed before either
        assert third.container_id in host.removed and host.removed_paused == []

    run(scenario)


def test_labels_name_the_function():
    async def scenario(pool, host, runtime):
        await pool.invoke(record(), b"x", "r0")
        (cid,) = host.started
        assert host.containers[cid]["labels"][LABEL_FUNCTION] == "f"

    run(scenario)


def test_versions_share_nothing_and_a_version_keeps_its_own_reserved_containers():
    async def scenario(pool, host, runtime):
        latest = record(maxInstances=2)
        v1 = latest.evolve(version_id="1")
        a = await pool.invoke(latest, b"a", "r1")
        b = await pool.invoke(v1, b"b", "r2")
        assert a.cold_start and b.cold_start and a.instance_id != b.instance_id
        # LATEST moving to a new revision does not touch a published version's containers.
        pool.sync_function(latest.evolve(revision=2))
        await pool.settle()
        assert [i.version_id for i in pool.instances("f", {"1"})] == ["1"]
        assert not (await pool.invoke(v1, b"c", "r3")).cold_start
        # Reserved containers of version 1 only: started, and waited for.
        pool.provision(v1, 2)
        assert await pool.warm(v1, timeout=2.0)
        kept = pool.instances("f", {"1"})
        assert sorted(i.reserved for i in kept) == [True, True] and pool.reserved_of(v1) == 2
        assert not any(i.reserved for i in pool.instances("f", {"LATEST"}))
        # Provisioning fewer makes the surplus ordinary (reclaimed by keep-alive), not gone.
        pool.provision(v1, 0)
        assert len(pool.instances("f", {"1"})) == 2 and not any(i.reserved for i in pool.instances("f", {"1"}))
        # Deleting the version removes its containers alone.
        await pool.invoke(latest.evolve(revision=2), b"d", "r4")
        await pool.remove_version(v1)
        await pool.settle()
        assert pool.instances("f", {"1"}) == [] and len(pool.instances("f", {"LATEST"})) == 1
        assert {c["labels"]["faas.version-id"] for c in host.containers.values()} == {"LATEST"}

    run(scenario)


def test_a_change_only_the_pool_reads_keeps_the_containers():
    async def scenario(pool, host, runtime):
        from dataclasses import replace

        v1 = record(revision=1)
        await pool.invoke(v1, b"warm", "r0")
        (kept,) = pool.instances("f")
        # Reserved instances, keep-alive and the description: the container serves revision 2 as it is,
        # promoted to reserved rather than replaced.
        v2 = v1.evolve(revision=2, spec=replace(v1.spec, reserved_instances=1, keep_alive_s=5, description="d"))
        pool.sync_function(v2)
        assert pool.instances("f") == [kept] and kept.revision == 2 and kept.reserved and kept.keep_alive_s == 5
        again = await pool.invoke(v2, b"x", "r1")
        assert not again.cold_start and again.instance_id == kept.id and len(host.started) == 1
        # What the container is told (its environment) changes: a new container, the old one goes.
        v3 = v2.evolve(revision=3, spec=replace(v2.spec, environment={"A": "1"}))
        pool.sync_function(v3)
        new = await pool.invoke(v3, b"y", "r2")
        await pool.settle()
        assert new.instance_id != kept.id and kept.container_id in host.removed

    run(scenario)


# The keep-alive policy at work (pool/warmth.py)

def test_calls_under_way_are_counted_once_per_invocation_even_when_starts_fail():
    async def scenario(pool, host, runtime):
        fn = record(maxInstances=1)
        runtime.fail_inits = 1
        await asyncio.gather(*(pool.invoke(fn, str(i).encode(), f"r{i}") for i in range(4)))
        warmth = pool._pools[fn.pool_key].warmth
        assert warmth.calls == 0 and warmth.decision is not None

    run(scenario)


def test_a_pre_warm_decision_releases_the_container_and_starts_one_before_the_next_call():
    async def scenario(pool, host, runtime):
        fn = record()
        await pool.invoke(fn, b"", "r1")
        policy = pool._pools[fn.pool_key].warmth.policy = ScriptedPolicy(Decision(0.2, 5.0, 3, Rule.HISTOGRAM))
        await pool.invoke(fn, b"", "r2")  # its rest applies the decision: the container goes, a pre-warm is due
        first = host.started[0]
        await until(lambda: first in host.removed)
        await until(lambda: len(host.started) == 2)  # the pre-warm, 0.2 s after the call
        (inst,) = pool.instances("f")
        await until(lambda: inst.state is S.READY)
        assert inst.prewarmed and inst.keep_alive_s == pytest.approx(4.8) and not inst.reserved
        outcome = await pool.invoke(fn, b"", "r3")
        assert outcome.cold_start is False and not inst.prewarmed  # served: it counts once
        assert len(policy.seen) == 2 and policy.seen[-1] >= 0.2
        text = pool.metrics.render().decode()
        assert 'faas_prewarms_total{function="f",outcome="served"} 1.0' in text
        assert 'reason="prewarm"' in text

    run(scenario)


def test_a_call_before_the_pre_warm_cancels_it_and_a_deleted_function_gets_none():
    async def scenario(pool, host, runtime):
        fn = record()
        await pool.invoke(fn, b"", "r1")
        pool._pools[fn.pool_key].warmth.policy = ScriptedPolicy(Decision(0.3, 5.0, 3, Rule.HISTOGRAM))
        await pool.invoke(fn, b"", "r2")
        await pool.invoke(fn, b"", "r3")  # before the pre-warm: a cold start, and the pre-warm is dropped
        assert len(host.started) == 2
        await pool.remove_function("f")  # with the next pre-warm due
        await asyncio.sleep(0.5)
        assert len(host.started) == 2 and pool.instances("f") == []

    run(scenario)


def test_a_container_ready_after_its_demand_ended_gets_the_versions_window_not_the_cap():
    async def scenario(pool, host, runtime):
        fn = record(maxInstances=3)
        await pool.invoke(fn, b"", "r1")
        warmth = pool._pools[fn.pool_key].warmth
        warmth.policy = ScriptedPolicy(Decision(0.0, 42.0, 3, Rule.HISTOGRAM))
        warmth.decision = None
        runtime.invoke_gate.close()
        host.start_gate.close()
        calls = [asyncio.create_task(pool.invoke(fn, b"", f"r{i}")) for i in range(2, 4)]
        await until(lambda: host.start_gate.waiting == 1)  # a second container starts for the second waiter...
        runtime.invoke_gate.open()
        await asyncio.gather(*calls)  # ...which the first serves once free: no call is under way any more
        host.start_gate.open()
        await pool.settle()
        assert [i.keep_alive_s for i in pool.instances("f")] == [42.0, 42.0]  # not a day, the adaptive cap

    run(scenario)
