"""Mount system calls (through libc), for placing a function version's files into running cells.

The recipe (measured on these machines, DESIGN.md section 8): the directory of the cells' code mounts
(`slots`) is bound on itself and made recursively shared, and each cell mounts its own directory below it
with `rslave` propagation. To place code, the version's directory is bound at a point under a private
mount (`staging`), made read-only there, and moved onto the cell's directory: the running container sees it
appear, read-only even to its root. A few system calls, whatever the size of the code.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SHARED = 1 << 20
MNT_DETACH = 0x2

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return _libc


def _check(result: int, what: str, path: Path | str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}", str(path))


def mount(source: Path | str | None, target: Path | str, flags: int) -> None:
    src = os.fsencode(source) if source is not None else None
    _check(_lib().mount(src, os.fsencode(target), None, flags, None), "mount", target)


def umount(target: Path | str) -> None:
    """Detach whatever is mounted on `target` (lazily: a container still using it keeps it until it goes)."""
    _check(_lib().umount2(os.fsencode(target), MNT_DETACH), "umount", target)


def mount_points() -> set[str]:
    """The mount points of this process's mount namespace (octal escapes of /proc decoded)."""
    points = set()
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            point = line.split(b" ")[4]
            points.add(os.fsdecode(point.replace(b"\\040", b" ").replace(b"\\011", b"\t")
                                   .replace(b"\\012", b"\n").replace(b"\\134", b"\\")))
    return points


def is_mount_point(path: Path) -> bool:
    return str(path) in mount_points()


def bind_self(path: Path, propagation: int) -> None:
    """Make `path` a mount point of its own (once) with `propagation` (MS_SHARED or MS_PRIVATE), recursively."""
    if not is_mount_point(path):
        mount(path, path, MS_BIND)
    mount(None, path, propagation | MS_REC)


def place(source: Path, staging: Path, target: Path) -> None:
    """Mount `source` read-only on `target` (a directory under a shared mount that a running container
    follows), through `staging` (an empty directory under a private mount)."""
    mount(source, staging, MS_BIND)
    try:
        mount(None, staging, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        mount(staging, target, MS_MOVE)
    except BaseException:
        umount(staging)
        raise


def unmount_all(target: Path) -> None:
    """Detach every mount stacked on `target`; none is fine."""
    for _ in range(8):
        try:
            umount(target)
        except OSError:
            return


def usable(root: Path) -> str | None:
    """None when this process can place code by mounts under `root`, else why not."""
    if os.geteuid() != 0:
        return "the control plane is not root"
    probe = root / ".probe"
    try:
        probe.mkdir(parents=True, exist_ok=True)
        mount(probe, probe, MS_BIND)
        umount(probe)
    except OSError as exc:
        return f"mount is not permitted here ({exc.strerror})"
    finally:
        try:
            probe.rmdir()
        except OSError:
            pass
    return None
