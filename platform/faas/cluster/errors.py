"""Errors of the node API only: a front end handles them, and no client of the public API ever sees one."""

from __future__ import annotations

from .. import errors
from ..errors import FaasError, ServiceUnavailable


class ReleaseUnknown(FaasError):
    """A node was asked to run a release of a function it has not been given (the front end then gives it)."""
    code = "ReleaseUnknown"
    status = 409


class ImageMissing(FaasError):
    """A node lacks a function's image and cannot pull it (the front end then sends it)."""
    code = "ImageMissing"
    status = 409


class NodeDraining(ServiceUnavailable):
    """A node being drained takes no new invocations."""
    code = "NodeDraining"
    status = 503


NODE_ERRORS = (ReleaseUnknown, ImageMissing, NodeDraining)


def by_code(code: str) -> type[FaasError]:
    """The error class of an error code a node answered; FaasError when unknown."""
    found: dict[str, type[FaasError]] = {}
    for cls in (*vars(errors).values(), *NODE_ERRORS):  # a code's first class: the base, not a subclass sharing it
        if isinstance(cls, type) and issubclass(cls, FaasError):
            found.setdefault(cls.code, cls)
    return found.get(code, FaasError)
