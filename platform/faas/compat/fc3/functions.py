"""FC 3.0's functions: create, get, update, delete, list, invoke, and the concurrency config (`maxInstances`)."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from ... import defaults
from ...api.code import code_url
from ...api.keys import RELEASES, SERVICE
from ...errors import InvalidArgument
from ..listing import listed, page
from ..names import create_named, name_pairs, surface_page
from ..signed import base_url, invoke_signed, json_body
from . import model
from .common import path_fc_name, platform_name, qualifier_of


# -- functions
async def create_function(request: web.Request) -> web.Response:
    spec = model.spec_body(json_body(request), creating=True)
    fc_name = spec.get("name")
    if not isinstance(fc_name, str):
        raise InvalidArgument("functionName is required")
    return web.json_response(model.function(await create_named(request, fc_name, spec), fc_name))


async def get_function(request: web.Request) -> web.Response:
    record = await request.config_dict[RELEASES].shown(platform_name(request), qualifier_of(request))
    return web.json_response(model.function(record, path_fc_name(request)))


async def update_function(request: web.Request) -> web.Response:
    name = platform_name(request)
    record = await request.config_dict[SERVICE].update(name, model.spec_body(json_body(request), creating=False))
    return web.json_response(model.function(record, path_fc_name(request)))


async def delete_function(request: web.Request) -> web.Response:
    await request.config_dict[SERVICE].delete(platform_name(request))
    await name_pairs(request).release(path_fc_name(request))
    return web.Response(status=204)


async def list_functions(request: web.Request) -> web.Response:
    unsupported = sorted(set(request.query) - {"prefix", "limit", "nextToken"})
    if unsupported:
        raise InvalidArgument(f"ListFunctions does not take {', '.join(unsupported)} here")
    chosen, token = await surface_page(request, lambda names: page(names, request))
    return listed("functions", [model.function(record, n) for n, record in chosen], token)


async def put_concurrency_config(request: web.Request) -> web.Response:
    name, body = platform_name(request), json_body(request)
    record = await request.config_dict[SERVICE].update(name, {"maxInstances": model.reserved_concurrency(body)})
    return web.json_response(model.concurrency_config(path_fc_name(request), record))


async def get_concurrency_config(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(platform_name(request))
    return web.json_response(model.concurrency_config(path_fc_name(request), record))


async def delete_concurrency_config(request: web.Request) -> web.Response:
    await request.config_dict[SERVICE].update(platform_name(request), {"maxInstances": defaults.MAX_INSTANCES})
    return web.Response(status=204)


# -- invocations
def invoke_function(request: web.Request) -> Awaitable[web.Response]:
    return invoke_signed(request, platform_name(request), qualifier_of(request), "x-fc-async-task-id")


async def get_function_code(request: web.Request) -> web.Response:
    record = await request.config_dict[RELEASES].shown(platform_name(request), qualifier_of(request))
    url = code_url(request.config_dict, base_url(request), record.name, record.version_id)
    return web.json_response({"url": url, "checksum": record.code_sha256 or ""})
