"""FC 2.0's functions in a service: create, get, update, delete, list, and InvokeFunction."""

from __future__ import annotations

from aiohttp import web

from ...api.code import code_url
from ...api.keys import SERVICE
from ...errors import FunctionNotFound, InvalidArgument
from ..listing import page
from ..signed import invoke_signed, json_body
from . import model
from .common import function_of, name_pairs, pair_name, platform_name, service_of, services
from .services import live_functions


async def create_function(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    store = services(request)
    await store.get(service)
    spec = model.function_body(json_body(request), creating=True)
    fc_name = spec.get("name")
    if not isinstance(fc_name, str):
        raise InvalidArgument("functionName is required")
    pairs = name_pairs(request)
    native, claimed = await pairs.claim(pair_name(service, fc_name))
    try:
        record = await request.config_dict[SERVICE].create(spec | {"name": native})
    except BaseException:
        if claimed:  # its pair was made for this function, which was not made
            await pairs.release(pair_name(service, fc_name))
        raise
    await store.add_function(service, fc_name)
    return web.json_response(model.function(record, fc_name))


async def _record(request: web.Request):
    """The path's service (checked to exist), function FC name, and the function's record."""
    service, _ = service_of(request)
    await services(request).get(service)
    fc_name = function_of(request)
    try:
        record = await request.config_dict[SERVICE].get(platform_name(service, fc_name))
    except FunctionNotFound:
        raise FunctionNotFound(f"service {service} has no function {fc_name}") from None
    return service, fc_name, record


async def get_function(request: web.Request) -> web.Response:
    _, fc_name, record = await _record(request)
    return web.json_response(model.function(record, fc_name))


async def update_function(request: web.Request) -> web.Response:
    service, fc_name, _ = await _record(request)
    spec = model.function_body(json_body(request), creating=False)
    record = await request.config_dict[SERVICE].update(platform_name(service, fc_name), spec)
    return web.json_response(model.function(record, fc_name))


async def delete_function(request: web.Request) -> web.Response:
    service, fc_name, record = await _record(request)
    await request.config_dict[SERVICE].delete(record.name)
    await services(request).remove_function(service, fc_name)
    await name_pairs(request).release(pair_name(service, fc_name))
    return web.Response(status=204)


async def list_functions(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    await services(request).get(service)
    names, token = page(await live_functions(request, service), request)
    records = [await request.config_dict[SERVICE].get(platform_name(service, n)) for n in names]
    body: dict = {"functions": [model.function(r, n) for r, n in zip(records, names)]}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)


async def invoke_function(request: web.Request) -> web.Response:
    service, qualifier = service_of(request)
    await services(request).get(service)
    try:
        return await invoke_signed(request, platform_name(service, function_of(request)), qualifier,
                                   "x-fc-stateful-async-invocation-id")
    except FunctionNotFound:
        raise FunctionNotFound(f"service {service} has no function {function_of(request)}") from None


async def get_function_code(request: web.Request) -> web.Response:
    _, _, record = await _record(request)
    url = code_url(request.config_dict, f"{request.scheme}://{request.host}", record.name, record.version_id)
    return web.json_response({"url": url, "checksum": record.code_sha256 or ""})
