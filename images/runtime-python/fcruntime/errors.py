"""The one shape of a user-facing error: errorMessage, errorType, stackTrace, runtime frames removed."""

import importlib
import os
import traceback

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__))

# Error types of the runtime itself, one per way loading a handler can fail.
INVALID_HANDLER = "InvalidHandler"
IMPORT_MODULE_ERROR = "ImportModuleError"
SYNTAX_ERROR = "UserCodeSyntaxError"
HANDLER_NOT_FOUND = "HandlerNotFound"
SERIALIZATION_ERROR = "ResponseSerializationError"
RUNTIME_EXIT = "RuntimeExited"


class RuntimeFault(Exception):
    """An error of the runtime's own making (bad handler string, missing module...), not raised by user code."""

    def __init__(self, error_type, message, cause=None):
        super().__init__(message)
        self.error_type = error_type
        self.cause = cause


def _user_frames(tb):
    """Frames of the traceback that belong to user code: the runtime's and importlib's are dropped."""
    frames = []
    for frame in traceback.extract_tb(tb):
        name = frame.filename
        if name.startswith((RUNTIME_DIR, IMPORTLIB_DIR, "<frozen importlib")):
            continue
        frames.append(frame)
    return frames


def make_error(exc, error_type=None):
    """The error document for `exc`: {"errorMessage", "errorType", "stackTrace"}."""
    if isinstance(exc, RuntimeFault):
        error_type = error_type or exc.error_type
        cause = exc.cause
    else:
        cause = exc
    error_type = error_type or type(exc).__name__
    stack = []
    if cause is not None:
        stack = [line.rstrip("\n") for line in traceback.format_list(_user_frames(cause.__traceback__))]
        if isinstance(cause, SyntaxError):
            # The location of a syntax error is in the exception, not in a frame.
            stack += [line.rstrip("\n") for line in traceback.format_exception_only(type(cause), cause)[:-1]]
    return {"errorMessage": str(exc), "errorType": error_type, "stackTrace": stack}
