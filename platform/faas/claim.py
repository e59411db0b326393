"""One process owns a platform id on a host: the one that holds its claim, a lock file beside the cells.

Two control planes (or node agents) with the same FAAS_PLATFORM_ID on one host would take each other's
containers for strays, prune each other's unpacked code and unmount each other's cells. The second one
refuses to start instead, and says which process holds the id. The lock is the kernel's (flock): it goes
with its process, however that process ends, so a crash leaves no stale claim behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class PlatformInUse(Exception):
    """Another live process holds the platform id's claim on this host."""


def claim_path(cells_dir: Path, platform_id: str) -> Path:
    return cells_dir / ".claims" / f"{platform_id}.lock"


def _holder(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip() or "another process"
    except OSError:
        return "another process"


def _lock(path: Path, platform_id: str) -> int | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        log.warning("Platform %s: no claim can be made in %s (%s); another process with the same "
                    "FAAS_PLATFORM_ID on this host would not be stopped", platform_id, path.parent, exc)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise PlatformInUse(f"platform id {platform_id!r} is in use on this host by {_holder(path)}; stop it, or "
                            "give this one its own FAAS_PLATFORM_ID") from None
    return fd


def claim(cells_dir: Path, platform_id: str, what: str) -> int | None:
    """Take the platform id's claim for this process (`what` says who it is, for the loser's message): an open
    file descriptor (close-on-exec: no child holds it) to keep open for the process's life. PlatformInUse when
    a live process holds it; None when no claim can be made here (the directory is not writable: the log says
    so)."""
    path = claim_path(cells_dir, platform_id)
    fd = _lock(path, platform_id)
    if fd is not None:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} ({what}, working directory {os.getcwd()})\n".encode())
    return fd


def check(cells_dir: Path, platform_id: str) -> None:
    """PlatformInUse when a live process holds the claim now (for a supervisor, before it starts anything)."""
    fd = _lock(claim_path(cells_dir, platform_id), platform_id)
    if fd is not None:
        os.close(fd)  # (the kernel drops the lock with its last descriptor)
