"""A container's memory high-water mark, read from its cgroup on the host: Max Memory Used for containers
whose process does not report it (custom containers)."""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_peak_file(pid: int, container_id: str, root: Path = CGROUP_ROOT) -> Path | None:
    """The file holding the peak memory of the cgroup of `pid` (cgroup v1's memory.max_usage_in_bytes or
    v2's memory.peak); None when it cannot be found or is not the container's own cgroup."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if container_id not in path or ".." in path:
            continue
        if "memory" in controllers.split(","):
            candidate = root / "memory" / path.lstrip("/") / "memory.max_usage_in_bytes"
        elif controllers == "":
            candidate = root / path.lstrip("/") / "memory.peak"
        else:
            continue
        if candidate.is_file():
            return candidate
    return None


def read_peak_mb(path: Path | None) -> int | None:
    """MiB in `path` (bytes), rounded up; None when unreadable."""
    if path is None:
        return None
    try:
        return (int(path.read_text()) + (1 << 20) - 1) >> 20
    except (OSError, ValueError):
        return None
