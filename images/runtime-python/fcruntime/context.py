"""The `context` object handed to initializers and handlers (Function Compute's Python context)."""

import io
import logging
import sys
import threading
import time

_local = threading.local()


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = getattr(_local, "request_id", "-")
        return True


class MarkedStream(io.TextIOBase):
    """sys.stdout and sys.stderr of user code. An invocation's Start marker is held back until the
    invocation writes something, so that a quiet invocation costs one write (Start and End together)
    instead of two: every write is a message the container's log driver must carry."""

    def __init__(self, inner):
        self.inner = inner

    def write(self, text):
        pending = getattr(_local, "pending_start", None)
        if pending is not None:
            _local.pending_start = None
            sys.__stdout__.write(pending)
            sys.__stdout__.flush()
        return self.inner.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self.inner.flush()

    def fileno(self):
        return self.inner.fileno()

    def isatty(self):
        return False

    def writable(self):
        return True

    @property
    def encoding(self):
        return self.inner.encoding


def begin_invocation(request_id):
    """Mark the start of an invocation on this thread (written with its first output, or with its end)."""
    _local.request_id = request_id
    _local.pending_start = f"FC Invoke Start RequestId: {request_id}\n"


def end_invocation(request_id):
    pending = getattr(_local, "pending_start", None) or ""
    _local.pending_start = None
    sys.__stdout__.write(f"{pending}FC Invoke End RequestId: {request_id}\n")
    sys.__stdout__.flush()


def install_streams():
    """Route user code's stdout and stderr through MarkedStream (idempotent)."""
    if not isinstance(sys.stdout, MarkedStream):
        sys.stdout = MarkedStream(sys.__stdout__)
    if not isinstance(sys.stderr, MarkedStream):
        sys.stderr = MarkedStream(sys.__stderr__)


def _make_logger():
    logger = logging.getLogger("fc_user")
    handler = logging.StreamHandler(MarkedStream(sys.__stdout__))
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03dZ %(request_id)s [%(levelname)s] %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


LOGGER = _make_logger()


def set_request_id(request_id):
    _local.request_id = request_id


class FunctionMeta:
    """What the function is: name, handler, memory, timeout, initializer."""

    def __init__(self, name, handler, memory_size, timeout, initializer, initialization_timeout):
        self.name = name
        self.handler = handler
        self.memory_size = memory_size
        self.memory = memory_size  # FC's name for it
        self.timeout = timeout
        self.initializer = initializer
        self.initialization_timeout = initialization_timeout


class Context:
    """One invocation's (or the initializer's) context."""

    def __init__(self, request_id, function, deadline, attempt=1):
        self.request_id = request_id
        self.function = function
        self.attempt = attempt
        self.logger = LOGGER
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))
