"""What the FC 3.0 surface's handlers share: the signature check and FC's error shape (the middleware), and
the reading of paths, bodies, qualifiers and pages."""

from __future__ import annotations

import functools

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
    return _platform_name(request.match_info["function"])


@functools.lru_cache(maxsize=4096)
def _platform_name(fc_name: str) -> str:
    """(A pure function of the name, kept for the names in use: every InvokeFunction asks it.)"""
    return native_name(model.check_function_name(fc_name))


def millis(query, key: str) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidArgument(f"{key} must be milliseconds since the epoch")
    return int(raw)
