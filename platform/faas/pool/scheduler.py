"""Pool decisions as plain functions over plain data: no Docker, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from .instance import Instance
from .state import FROZEN, ContainerState

S = ContainerState


def pick_warm(instances: Iterable[Instance], revision: int) -> Instance | None:
    """The container of `revision` to serve the next invocation, or None when none has room.

    Running containers before paused ones (a paused one costs an unpause); among running ones the busiest
    with room, then reserved ones (they stay anyway), then the most recently used, so that the least recently
    used on-demand containers go idle and are reclaimed first.
    """
    best: Instance | None = None
    best_key: tuple[bool, int, bool, float] | None = None
    for inst in instances:
        if inst.revision != revision or not inst.has_room:
            continue
        key = (inst.state not in FROZEN, inst.active, inst.reserved, inst.last_used)
        if best_key is None or key > best_key:
            best, best_key = inst, key
    return best


def expired(instances: Iterable[Instance], now: float) -> list[Instance]:
    """Containers to reclaim now: idle past their keep-alive (never reserved ones)."""
    return [inst for inst in instances
            if inst.idle and not inst.reserved and now - inst.last_used >= inst.keep_alive_s]


def to_pause(instances: Iterable[Instance], now: float) -> list[Instance]:
    """Running idle containers whose function pauses them, idle for at least pauseAfterSeconds."""
    return [inst for inst in instances
            if inst.state is S.READY and inst.pause_after_s is not None and now - inst.last_used >= inst.pause_after_s]


def choose_evictions(instances: Iterable[Instance], need_mb: int, exclude: str | None = None) -> list[Instance]:
    """Idle containers to remove, least recently used first, that free at least `need_mb` of memory budget.

    Never reserved ones, never those of `exclude` (the pool key of the version that needs the room). Returns []
    when even all candidates together would not free enough: evicting them would cost warm containers for
    nothing.
    """
    if need_mb <= 0:
        return []
    candidates = sorted((i for i in instances if i.idle and not i.reserved and i.pool_key != exclude),
                        key=lambda i: i.last_used)
    chosen, freed = [], 0
    for inst in candidates:
        chosen.append(inst)
        freed += inst.memory_mb
        if freed >= need_mb:
            return chosen
    return []


def reserved_plan(instances: Iterable[Instance], revision: int,
                  wanted: int) -> tuple[list[Instance], int, list[Instance]]:
    """(containers to make reserved, containers to start reserved, reserved containers to release) so that
    `wanted` containers of `revision` are reserved. Containers already there are promoted before any new
    one is started; a surplus is released idle ones first, least recently used first."""
    current = [i for i in instances if i.revision == revision and i.state not in (S.DRAINING, S.REMOVING)]
    have = [i for i in current if i.reserved]
    if len(have) >= wanted:
        surplus = sorted(have, key=lambda i: (i.active > 0, i.last_used))[:len(have) - wanted]
        return [], 0, surplus
    missing = wanted - len(have)
    promote = sorted((i for i in current if not i.reserved), key=lambda i: i.last_used, reverse=True)[:missing]
    return promote, missing - len(promote), []
