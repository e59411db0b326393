"""Container states and the one table of legal transitions."""

from __future__ import annotations

from enum import Enum


class ContainerState(str, Enum):
    STARTING = "Starting"
    """Created and started; not yet answering, or its initializer is running."""
    READY = "Ready"
    """Initialized and idle: serves the next invocation without a cold start."""
    BUSY = "Busy"
    """Serving at least one invocation."""
    PAUSED = "Paused"
    """Frozen while idle; unpaused before it serves again."""
    REMOVING = "Removing"
    """Leaving the pool: stopped and removed."""


S = ContainerState

TRANSITIONS: dict[ContainerState, frozenset[ContainerState]] = {
    S.STARTING: frozenset({S.BUSY, S.READY, S.REMOVING}),
    S.READY: frozenset({S.BUSY, S.PAUSED, S.REMOVING}),
    S.BUSY: frozenset({S.READY, S.REMOVING}),
    S.PAUSED: frozenset({S.READY, S.BUSY, S.REMOVING}),
    S.REMOVING: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def check_transition(current: ContainerState, new: ContainerState) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"{current.value} -> {new.value} is not a legal transition")
