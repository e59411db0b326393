"""What the FC 3.0 surface's handlers share: the signature check and FC's error shape (the middleware), and
the reading of paths, bodies, qualifiers and pages."""

from __future__ import annotations

from aiohttp import web

from ... import defaults
from ...errors import InvalidArgument
from ...qualifiers import check_qualifier
from ...signing import acs3
from ..names import native_name
from ..signed import Surface
from . import model


def _shape(status: int, code: str, message: str, request_id: str) -> dict:
    return {"Code": code, "Message": message, "RequestId": request_id}


PREFIX = "/2023-03-30"
SURFACE = Surface(PREFIX, acs3, _shape)
"""ACS3-HMAC-SHA256 first; every error as FC 3.0's `{"Code", "Message", "RequestId"}`."""


def qualifier_of(request: web.Request) -> str:
    return check_qualifier(request.query.get("qualifier", defaults.LATEST))


def path_fc_name(request: web.Request) -> str:
    return model.check_function_name(request.match_info["function"])


def platform_name(request: web.Request) -> str:
    """The platform name of the path's function (see faas.compat.names)."""
    return native_name(path_fc_name(request))


def millis(query, key: str) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidArgument(f"{key} must be milliseconds since the epoch")
    return int(raw)
