"""FC 2.0's functions in a service: create, get, update, delete, list, GetFunctionCode, and InvokeFunction."""

from __future__ import annotations

from aiohttp import web

from ...api.code import code_url
from ...api.keys import RELEASES, SERVICE
from ...errors import FunctionNotFound, InvalidArgument
from ...models import FunctionRecord
from ...qualifiers import LATEST
from ..listing import listed, page
from ..names import create_named, name_pairs
from ..signed import base_url, invoke_signed, json_body
from . import model
from .common import existing_service, function_of, function_record, service_of, service_releases, services
from .model import pair_name, platform_name
from .services import live_functions


async def create_function(request: web.Request) -> web.Response:
    service = await existing_service(request)
    spec = model.function_body(json_body(request), creating=True)
    fc_name = spec.get("name")
    if not isinstance(fc_name, str):
        raise InvalidArgument("functionName is required")
    record = await create_named(request, pair_name(service, fc_name), spec)
    await services(request).add_function(service, fc_name)
    return web.json_response(model.function(record, fc_name))


async def get_function(request: web.Request) -> web.Response:
    _, fc_name, record = await _shown(request)
    return web.json_response(model.function(record, fc_name))


async def _shown(request: web.Request) -> tuple[str, str, FunctionRecord]:
    """The path's service, function (its FC name) and the function as the path's qualifier shows it."""
    service, fc_name, record = await function_record(request, qualified=True)
    _, qualifier = service_of(request, qualified=True)
    if qualifier != LATEST:
        target = await service_releases(request).qualifier(service, fc_name, qualifier)
        record = await request.config_dict[RELEASES].shown(record.name, target)
    return service, fc_name, record


async def update_function(request: web.Request) -> web.Response:
    _, fc_name, current = await function_record(request)
    spec = model.function_body(json_body(request), creating=False)
    record = await request.config_dict[SERVICE].update(current.name, spec)
    return web.json_response(model.function(record, fc_name))


async def delete_function(request: web.Request) -> web.Response:
    service, fc_name, record = await function_record(request)
    await request.config_dict[SERVICE].delete(record.name)
    await services(request).remove_function(service, fc_name)
    await name_pairs(request).release(pair_name(service, fc_name))
    return web.Response(status=204)


async def list_functions(request: web.Request) -> web.Response:
    service = await existing_service(request)
    records = await live_functions(request, service)
    names, token = page(list(records), request)
    return listed("functions", [model.function(records[n], n) for n in names], token)


async def get_function_code(request: web.Request) -> web.Response:
    _, _, record = await _shown(request)
    url = code_url(request.config_dict, base_url(request), record.name, record.version_id)
    return web.json_response({"url": url, "checksum": record.code_sha256 or ""})


async def invoke_function(request: web.Request) -> web.Response:
    service = await existing_service(request, qualified=True)
    _, qualifier = service_of(request, qualified=True)
    fc_name = function_of(request)
    target = await service_releases(request).qualifier(service, fc_name, qualifier)
    try:
        return await invoke_signed(request, platform_name(service, fc_name), target,
                                   "x-fc-stateful-async-invocation-id")
    except FunctionNotFound:
        raise FunctionNotFound(f"service {service} has no function {fc_name}") from None
