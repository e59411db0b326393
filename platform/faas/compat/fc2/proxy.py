"""FC 2.0's path of HTTP triggers, `/2016-08-15/proxy/{service}[.{qualifier}]/{function}/{path}`: the platform's
HTTP trigger of that function (faas.api.triggers), as FC 2.0 clients and the SDK's `do_http_request` call it. A
trigger with authType function takes FC 2.0's signature, the query signed too; an anonymous one takes anything."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from ...api.triggers import through_trigger
from ...auth import Role
from ...signing import fc2
from ..signed import authenticate
from .common import existing_service, function_of
from .model import platform_name


async def proxy(request: web.Request) -> web.StreamResponse:
    name = platform_name(await existing_service(request), function_of(request))
    path, _, query = request.raw_path.partition("?")
    rest = path.split("/", 5)  # '', '2016-08-15', 'proxy', service, function, the rest
    raw_path = "/" + (rest[5] if len(rest) > 5 else "")
    return await through_trigger(request, request.config_dict, name, raw_path, query,
                                 unquote(raw_path, errors="replace"), _signed)


async def _signed(request: web.Request) -> None:
    """A trigger with authType function: FC 2.0's signature, its body left to stream on."""
    await authenticate(request, fc2, Role.INVOKE, read_body=False)
