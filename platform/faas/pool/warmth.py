"""A function version's keep-alive policy at work in its pool: told when calls arrive and end, asked what to
do when the last one ends.

The version is idle from the end of its last call under way to the next arrival; each such idle time is
what its policy learns from (pool/keepalive). When the last call ends, the decision is applied by the pool
(Containers.keep_warm): its idle containers are kept until the window's end, or, when the window starts
later (a pre-warm), they go at once and one container is started, from a cell where there is one, just
before the window.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..cells.pool import why_not
from ..config import Settings
from ..models import FunctionRecord
from .keepalive import Adaptive, Decision, Fixed, KeepAlivePolicy
from .state import ContainerState

if TYPE_CHECKING:
    from .containers import Containers
    from .function_pool import FunctionPool


def policy_for(record: FunctionRecord, settings: Settings) -> KeepAlivePolicy:
    spec = record.spec
    if spec.keep_alive_policy == "fixed":
        return Fixed(spec.keep_alive_cap_s)
    return Adaptive(spec.memory_mb, takes_cells=why_not(record) is None, min_prewarm_s=settings.prewarm_min_gap)


class Warmth:
    """One pool's learner, its calls under way and the decision after the last one."""

    __slots__ = ("settings", "policy", "kind", "cap_s", "memory_mb", "calls", "last_end", "decision", "prewarm",
                 "prewarm_at")

    def __init__(self, record: FunctionRecord, settings: Settings):
        self.settings = settings
        self.policy = policy_for(record, settings)
        self.kind, self.cap_s, self.memory_mb = (record.spec.keep_alive_policy, record.spec.keep_alive_cap_s,
                                                 record.spec.memory_mb)
        self.calls = 0
        self.last_end: float | None = None
        """When the last call ended, with none under way since; None before any."""
        self.decision: Decision | None = None
        self.prewarm: asyncio.TimerHandle | None = None
        """The pre-warm scheduled by the decision, until a call comes or it runs."""
        self.prewarm_at = 0.0

    def follow(self, record: FunctionRecord) -> None:
        """A new revision of the version: what it learned stays unless the policy or the memory size changed
        (then a pre-warm to come is dropped, and the decision made anew after the next call)."""
        spec = record.spec
        if (spec.keep_alive_policy, spec.memory_mb) != (self.kind, self.memory_mb):
            self.policy = policy_for(record, self.settings)
            self.kind, self.memory_mb = spec.keep_alive_policy, spec.memory_mb
            self.decision = None
            self.cancel()
        self.cap_s = spec.keep_alive_cap_s

    def arrive(self, now: float) -> None:
        """A call arrives: the idle time before it is learned (when none was under way), and a pre-warm still
        to come is not needed any more."""
        if self.calls == 0 and self.last_end is not None:
            self.policy.observe(now - self.last_end)
        self.calls += 1
        self.cancel()

    def leave(self, now: float) -> Decision | None:
        """A call ended (or failed to start): the decision when it was the last under way, else None."""
        self.calls = max(0, self.calls - 1)
        if self.calls:
            return None
        self.last_end = now
        self.decision = self.policy.decide().bounded(self.cap_s)
        return self.decision

    def cancel(self) -> None:
        if self.prewarm is not None:
            self.prewarm.cancel()
            self.prewarm = None

    def current(self) -> Decision:
        """The decision after the last call, or what the policy would say now when no call has ended yet."""
        return self.decision or self.policy.decide().bounded(self.cap_s)

    def idle_keep_s(self) -> float:
        """How long a container that goes idle now, with no call under way, is kept: the current decision's
        window from the end of the call (none when the decision was to release and pre-warm)."""
        d = self.current()
        return 0.0 if d.prewarm_s > 0 else d.keep_alive_s

    def describe(self) -> dict:
        """The version's current decision, as /instances shows it."""
        return {"policy": self.kind} | self.current().public()


class KeepWarm:
    """The pool's side of keep-alive decisions: calls arrive and rest through it, and it keeps a version's idle
    containers for its window, or lets them go and pre-warms one before it."""

    def __init__(self, containers: Containers):
        self.containers = containers

    def arrive(self, pool: FunctionPool, now: float) -> None:
        """A call of `pool` arrives at `now`: a pre-warm still to come is dropped, and the cell kept for it."""
        warmth = pool.warmth
        if warmth.prewarm is not None and self.containers.cells is not None:
            self.containers.cells.unexpect(pool.record, warmth.prewarm_at)
        warmth.arrive(now)

    def rest(self, pool: FunctionPool, now: float) -> None:
        """A call of `pool` ended (or failed to get a container) at `now`."""
        decision = pool.warmth.leave(now)
        containers = self.containers
        if decision is None or containers.closing or containers.pools.get(pool.key) is not pool:
            return
        idle = [i for i in pool.instances if i.idle and not i.reserved and pool.current(i)]
        if decision.prewarm_s > 0 and not any(i.reserved for i in pool.instances):
            for inst in idle:
                containers.discard(inst, hook=True)
            pool.warmth.prewarm_at = now + decision.prewarm_s
            pool.warmth.prewarm = asyncio.get_running_loop().call_later(decision.prewarm_s, self._prewarm, pool,
                                                                        decision.loaded_s)
            if containers.cells is not None:
                containers.cells.expect(pool.record, pool.warmth.prewarm_at)
            return
        for inst in idle:
            inst.keep_alive_s = decision.keep_alive_s

    def _prewarm(self, pool: FunctionPool, keep_s: float) -> None:
        pool.warmth.prewarm = None
        containers = self.containers
        if containers.closing or containers.pools.get(pool.key) is not pool or pool.warmth.calls:
            return
        if any(pool.current(i) and i.state is not ContainerState.REMOVING for i in pool.instances):
            return  # one is there already
        containers.start_ahead(pool, reserved=False, prewarm_s=keep_s)
