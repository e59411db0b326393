"""Pool decisions as plain functions over plain data: no Docker, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from .instance import Instance
from .state import ContainerState


def pick_warm(instances: Iterable[Instance], version: int) -> Instance | None:
    """The container of `version` to serve the next invocation, or None when a cold start is needed.

    Packs invocations onto the busiest container with room, and among equals the most recently used,
    so that the least recently used ones go idle and are reclaimed first.
    """
    best = None
    for inst in instances:
        if inst.version != version or inst.retiring or not inst.has_room:
            continue
        if best is None or (inst.active, inst.last_used) > (best.active, best.last_used):
            best = inst
    return best


def expired(instances: Iterable[Instance], now: float) -> list[Instance]:
    """Containers to reclaim now: idle past their keep-alive (never reserved ones), or idle and retiring."""
    out = []
    for inst in instances:
        if inst.state is not ContainerState.READY or inst.active:
            continue
        if inst.retiring or (not inst.reserved and now - inst.last_used >= inst.keep_alive_s):
            out.append(inst)
    return out
