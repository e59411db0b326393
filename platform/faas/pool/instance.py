"""One function container as the pool sees it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .state import ContainerState, check_transition

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Instance:
    function: str
    version: int
    concurrency: int
    memory_mb: int
    keep_alive_s: int
    reserved: bool = False
    container_id: str = ""
    address: str = ""
    port: int = 9000
    state: ContainerState = ContainerState.STARTING
    active: int = 0
    """Invocations running on it now."""
    served: int = 0
    created_at: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    retiring: bool = False
    """Its function changed or went away: removed as soon as it is idle."""

    @property
    def id(self) -> str:
        return self.container_id[:12]

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def has_room(self) -> bool:
        return self.state in (ContainerState.READY, ContainerState.BUSY) and self.active < self.concurrency

    def idle_seconds(self, now: float | None = None) -> float:
        if self.active:
            return 0.0
        return (time.monotonic() if now is None else now) - self.last_used

    def transition(self, new: ContainerState) -> None:
        """The only way a state changes: checked against the table, and logged."""
        check_transition(self.state, new)
        log.debug("Container %s: %s -> %s", self.id or "(new)", self.state.value, new.value)
        self.state = new
