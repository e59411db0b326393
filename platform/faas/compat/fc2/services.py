"""FC 2.0's services: create, get, update, delete (when it has no function left), list."""

from __future__ import annotations

from aiohttp import web

from ...api.keys import SERVICE
from ...errors import FunctionNotFound
from ...models import FunctionRecord
from ..listing import listed, page
from ..signed import json_body
from . import model
from .common import existing_service, service_of, services
from .model import platform_name


async def create_service(request: web.Request) -> web.Response:
    stored = await services(request).create(model.service_body(json_body(request), creating=True))
    return web.json_response(model.service(stored))


async def get_service(request: web.Request) -> web.Response:
    name, _ = service_of(request)
    return web.json_response(model.service(await services(request).get(name)))


async def update_service(request: web.Request) -> web.Response:
    name, _ = service_of(request)
    stored = await services(request).update(name, model.service_body(json_body(request), creating=False))
    return web.json_response(model.service(stored))


async def delete_service(request: web.Request) -> web.Response:
    name = await existing_service(request)
    left = await live_functions(request, name)
    if left:
        raise model.ServiceNotEmpty(f"service {name} still has {len(left)} function(s): delete them first")
    await services(request).delete(name)
    return web.Response(status=204)


async def list_services(request: web.Request) -> web.Response:
    stored = {s["serviceName"]: s for s in await services(request).all()}
    names, token = page(list(stored), request)
    return listed("services", [model.service(stored[n]) for n in names], token)


async def live_functions(request: web.Request, service: str) -> dict[str, FunctionRecord]:
    """The records of the service's functions that exist, by FC name (one deleted through another surface is
    forgotten)."""
    store = services(request)
    alive = {}
    for function in await store.functions(service):
        try:
            alive[function] = await request.config_dict[SERVICE].get(platform_name(service, function))
        except FunctionNotFound:
            await store.remove_function(service, function)
    return alive
