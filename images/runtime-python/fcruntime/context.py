"""The `context` object handed to initializers and handlers (Function Compute's Python context)."""

import logging
import sys
import threading
import time

_local = threading.local()


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = getattr(_local, "request_id", "-")
        return True


def _make_logger():
    logger = logging.getLogger("fc_user")
    handler = logging.StreamHandler(sys.stdout)
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
