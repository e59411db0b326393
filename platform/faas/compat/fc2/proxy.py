"""FC 2.0's path of HTTP triggers, `/2016-08-15/proxy/{service}[.{qualifier}]/{function}/{path}`: the platform's
HTTP trigger of that function (faas.api.triggers), as FC 2.0 clients and the SDK's `do_http_request` call it. A
trigger with authType function takes FC 2.0's signature, the query signed too; an anonymous one takes anything. A
qualifier in the path must be the trigger's (a function has one HTTP trigger, of one qualifier)."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from ...api.triggers import answered, through_trigger
from ...auth import Role
from ...signing import fc2
from ..signed import authenticate
from .common import existing_service, function_of, service_of, service_releases
from .model import platform_name


async def proxy(request: web.Request) -> web.StreamResponse:
    service = await existing_service(request, qualified=True)
    _, qualifier = service_of(request, qualified=True)
    fc_name = function_of(request)
    wanted = None if request.match_info["service"] == service else \
        await service_releases(request).qualifier(service, fc_name, qualifier)
    path, _, query = request.raw_path.partition("?")
    rest = path.split("/", 5)  # '', '2016-08-15', 'proxy', service, function, the rest
    raw_path = "/" + (rest[5] if len(rest) > 5 else "")
    return answered(await through_trigger(request, request.config_dict, platform_name(service, fc_name), raw_path,
                                          query, unquote(raw_path, errors="replace"), _signed, wanted))


async def _signed(request: web.Request) -> None:
    """A trigger with authType function: FC 2.0's signature, its body left to stream on."""
    await authenticate(request, fc2, Role.INVOKE, read_body=False)
