"""One function container as the pool sees it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..defaults import LATEST
from .state import IDLE, SERVING, ContainerState, check_transition

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Instance:
    function: str
    revision: int
    """The revision of LATEST it runs (a published version's: the one it was published from)."""
    concurrency: int
    memory_mb: int
    keep_alive_s: float
    pause_after_s: int | None = None
    version_id: str = LATEST
    """The version it runs: LATEST or a published version's id."""
    reserved: bool = False
    """Started ahead of traffic to keep reservedInstances up; never reclaimed while reserved."""
    record: Any = None
    """The FunctionRecord it was started for: its headers, timeouts and limits."""
    container_id: str = ""
    address: str = ""
    port: int = 9000
    pid: int = 0
    socket: str = ""
    """Its runtime's socket in its own host directory (FAAS_SOCKET_DIR); "": reached through /proc/<pid>/root."""
    """The container's first process as the host sees it; 0 when unknown."""
    state: ContainerState = ContainerState.STARTING
    active: int = 0
    """Invocations running on it now."""
    served: int = 0
    init_ms: float | None = None
    """Milliseconds from create to initialized, for the REPORT line of its first invocation."""
    warmed: bool = False
    """It has served, or was started ahead of traffic: its next invocation is not a cold start."""
    prewarmed: bool = False
    """Started by its keep-alive policy before a predicted call, and has served none yet."""
    created_at: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    exited: bool = False
    """Docker said it died (or was destroyed)."""
    killed: bool = False
    """Docker said it was killed or removed by someone other than the pool (which takes a container out of
    the pool before it kills it)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Serializes freezing and thawing: a thaw waits for a freeze under way to finish."""
    memory_file: Any = None
    """Where its cgroup keeps its peak memory (a Path), for containers whose runtime does not report it."""
    conns: Any = None
    """Keep-alive connections to the container (pool.http.ConnectionPool), made on first use."""
    start_path: str = "image"
    """How its container started: `image` (created from the function's image) or `cell` (a cell specialised)."""
    slot: Any = None
    """A cell's directory on the host (a Path), released when its container goes; None for an image start."""
    code_dir: Any = None
    """The unpacked files a cell runs (a Path, kept while it lives); None for an image start."""

    @property
    def pool_key(self) -> str:
        """The pool it belongs to: its function's version (FunctionRecord.pool_key)."""
        return f"{self.function}@{self.version_id}"

    @property
    def id(self) -> str:
        return self.container_id[:12]

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def has_room(self) -> bool:
        return self.state in SERVING and self.active < self.concurrency

    @property
    def idle(self) -> bool:
        return self.state in IDLE

    @property
    def retiring(self) -> bool:
        return self.state is ContainerState.DRAINING

    def idle_seconds(self, now: float | None = None) -> float:
        if self.active or self.state is ContainerState.STARTING:
            return 0.0
        return (time.monotonic() if now is None else now) - self.last_used

    def carry_on(self, record: Any) -> None:
        """Serve `record`, a newer revision that changed only what the pool reads (its container stays)."""
        self.record, self.revision = record, record.revision
        spec = record.spec
        cap = spec.keep_alive_cap_s  # the fixed policy's window; the adaptive policy's bound on the one it has
        self.keep_alive_s = cap if spec.keep_alive_policy == "fixed" else min(self.keep_alive_s, cap)
        self.pause_after_s = spec.pause_after_s

    def transition(self, new: ContainerState) -> None:
        """The only way a state changes: checked against the table, and logged."""
        check_transition(self.state, new)
        log.debug("Container %s: %s -> %s", self.id or "(new)", self.state.value, new.value)
        self.state = new

    def describe(self, now: float | None = None) -> dict:
        now = time.monotonic() if now is None else now
        return {
            "instanceId": self.id, "state": self.state.value, "versionId": self.version_id, "revision": self.revision,
            "reserved": self.reserved,
            "activeInvocations": self.active, "invocations": self.served,
            "idleSeconds": round(self.idle_seconds(now), 3), "ageSeconds": round(now - self.created_at, 3),
            "memoryMB": self.memory_mb, "retiring": self.retiring, "startPath": self.start_path,
            "transport": self.conns.transport if self.conns is not None else None,
            "sandbox": (self.record.spec.sandbox if self.record is not None else None) or "runc",
        }
