"""Child processes that die with their parent: a part the platform started never outlives the process that
started it, even one that was SIGKILLed (Linux's PR_SET_PDEATHSIG, set between fork and exec)."""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen (call it in the thread that starts the child, which must live as
    long as the parent: the signal comes when that thread ends): the child gets `sig` when its parent dies."""
    parent = os.getpid()
    prctl = _libc.prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: nothing will send the signal
            os.kill(os.getpid(), sig)

    return preexec
