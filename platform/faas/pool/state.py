"""Container states and the one table of legal transitions.

Every phase a container goes through is a state here, as in OpenWhisk's ContainerProxy: the pool never
keeps a flag beside the state to say that a container is frozen, being frozen, or on its way out.

    Starting -> Ready <-> Busy -> Draining -> Removing
                Ready -> Pausing -> Paused -> Thawing -> Busy
                         Pausing -> Thawing (claimed while Docker froze it: thawed once the freeze is done)
    any state but Removing -> Removing
"""

from __future__ import annotations

from enum import Enum


class ContainerState(str, Enum):
    STARTING = "Starting"
    """Created and started; not yet answering, or its initializer is running."""
    READY = "Ready"
    """Initialized and idle: serves the next invocation without a cold start."""
    BUSY = "Busy"
    """Serving at least one invocation."""
    PAUSING = "Pausing"
    """Idle, and being frozen: its /pre-freeze hook or `docker pause` is under way."""
    PAUSED = "Paused"
    """Frozen while idle; thawed before it serves again."""
    THAWING = "Thawing"
    """Claimed by an invocation while frozen (or being frozen): `docker unpause` is under way."""
    DRAINING = "Draining"
    """Its function changed or went away while it served: it finishes what it runs, takes nothing new, and
    is removed when idle."""
    REMOVING = "Removing"
    """Out of the pool: stopped and removed."""


S = ContainerState

TRANSITIONS: dict[ContainerState, frozenset[ContainerState]] = {
    S.STARTING: frozenset({S.READY, S.REMOVING}),
    S.READY: frozenset({S.BUSY, S.PAUSING, S.REMOVING}),
    S.BUSY: frozenset({S.READY, S.DRAINING, S.REMOVING}),
    S.PAUSING: frozenset({S.PAUSED, S.THAWING, S.REMOVING}),
    S.PAUSED: frozenset({S.THAWING, S.REMOVING}),
    S.THAWING: frozenset({S.BUSY, S.DRAINING, S.REMOVING}),
    S.DRAINING: frozenset({S.REMOVING}),
    S.REMOVING: frozenset(),
}

SERVING = frozenset({S.READY, S.BUSY, S.PAUSING, S.PAUSED, S.THAWING})
"""States in which a container takes new invocations (up to its concurrency)."""

IDLE = frozenset({S.READY, S.PAUSING, S.PAUSED})
"""States of a container that runs nothing (a Ready one may be paused, a Pausing or Paused one evicted)."""

FROZEN = frozenset({S.PAUSING, S.PAUSED, S.THAWING})
"""States in which Docker has frozen the container, or may have: it answers nothing until thawed."""


class IllegalTransition(RuntimeError):
    pass


def check_transition(current: ContainerState, new: ContainerState) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"{current.value} -> {new.value} is not a legal transition")
