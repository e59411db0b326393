"""The `context` object handed to initializers and handlers (Function Compute's Python context)."""

import io
import logging
import sys
import threading
import time

_local = threading.local()


MAX_PARTIAL = 8192
"""A line longer than this is written in pieces (each tagged) rather than held back."""


class MarkedStream(io.TextIOBase):
    """sys.stdout and sys.stderr of user code.

    During an invocation every line its thread writes goes out as `<request id> <line>`, so the platform
    attributes it to the right invocation even when one container serves several at once. The Start
    marker is held back until the invocation writes something, and an invocation that writes nothing
    writes no marker either: every write is a message for the log driver and the log collector.
    Output of other threads (and outside invocations) passes through untouched.
    """

    def __init__(self, inner):
        self.inner = inner

    def write(self, text):
        request_id = getattr(_local, "active", None)
        if request_id is None:
            return self.inner.write(text)
        partials = _local.partials
        lines = (partials.get(self, "") + text).split("\n")
        rest = lines.pop()
        if len(rest) > MAX_PARTIAL:
            lines.append(rest)
            rest = ""
        partials[self] = rest
        if lines:
            self._emit("".join(f"{request_id} {line}\n" for line in lines))
        return len(text)

    def _emit(self, data):
        pending = getattr(_local, "pending_start", None)
        if pending is not None:
            _local.pending_start = None
            stdout = _stdout()
            if self.inner is stdout:
                data = pending + data
            else:
                stdout.write(pending)
                stdout.flush()
        self.inner.write(data)
        self.inner.flush()

    def close_invocation(self, request_id):
        rest = _local.partials.pop(self, "")
        if rest:
            self._emit(f"{request_id} {rest}\n")

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
    def encoding(self):  # type: ignore[override]  # typeshed has a settable attribute; CPython's is read-only
        return self.inner.encoding


def begin_invocation(request_id):
    """Mark the start of an invocation on this thread (written with its first output, or with its end)."""
    _local.request_id = request_id
    _local.active = request_id
    _local.partials = {}
    _local.pending_start = f"FC Invoke Start RequestId: {request_id}\n"


def quiet():
    """True while the invocation on this thread has written nothing: it needs no markers at all."""
    return getattr(_local, "pending_start", None) is not None and not any(getattr(_local, "partials", {}).values())


def end_invocation(request_id, quiet=False):
    """Write what the invocation left unfinished, then the End marker; nothing for a `quiet` one, which the
    platform was told of in its answer (x-faas-quiet), so that it does not wait for markers."""
    if quiet:
        _local.active = _local.pending_start = None
        _local.partials = {}
        return
    for stream in list(getattr(_local, "partials", {})):
        stream.close_invocation(request_id)
    _local.active = None
    pending = getattr(_local, "pending_start", None) or ""
    _local.pending_start = None
    stdout = _stdout()
    stdout.write(f"{pending}FC Invoke End RequestId: {request_id}\n")
    stdout.flush()


def _stdout():
    """The process's own stdout, where the markers go (read each time: tests replace it)."""
    stdout = sys.__stdout__
    assert stdout is not None, "the platform starts the runtime with a stdout (the container's log)"
    return stdout


def install_streams():
    """Route user code's stdout and stderr through MarkedStream (idempotent)."""
    if not isinstance(sys.stdout, MarkedStream):
        sys.stdout = MarkedStream(sys.__stdout__)
    if not isinstance(sys.stderr, MarkedStream):
        sys.stderr = MarkedStream(sys.__stderr__)


def _log_handler():
    """A handler whose lines go to stdout, tagged with the invocation of the thread that logs them."""
    handler = logging.StreamHandler(MarkedStream(sys.__stdout__))
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ [%(levelname)s] %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    return handler


def _make_logger():
    logger = logging.getLogger("fc_user")
    logger.addHandler(_log_handler())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


LOGGER = _make_logger()


def configure_root_logger():
    """Function Compute's Python runtime sets the root logger to INFO with a handler of its own, so
    `logging.getLogger().info(...)` in a handler reaches the invocation's log (and a later
    `logging.basicConfig()` in user code changes nothing, as there). Idempotent."""
    root = logging.getLogger()
    if not any(getattr(h, "fc_root", False) for h in root.handlers):
        handler = _log_handler()
        handler.fc_root = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def set_request_id(request_id):
    _local.request_id = request_id


class FunctionMeta:
    """What the function is: name, handler, memory, timeout, initializer."""

    def __init__(self, name, handler, memory_size, timeout, initializer, initialization_timeout,
                 handler_type="event"):
        self.name = name
        self.handler_type = handler_type
        """`event`: handler(event, context); `wsgi`: an HTTP function, handler(environ, start_response);
        `lambda`: handler(event, context) as Lambda calls it (see awslambda)."""
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
