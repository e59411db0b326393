"""Triggers on either surface: the platform's http, timer and queue triggers. A surface says how a path names its
function, how a request's body becomes `/v1`'s (both use faas.compat.fc3.model.trigger_body) and how a trigger is
shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from aiohttp import web

from ..api.keys import TRIGGERS
from ..models import FunctionRecord
from ..triggers.model import Trigger
from .listing import listed, page
from .signed import Handler, json_body


class TriggerRoutes(NamedTuple):
    create: Handler
    get: Handler
    update: Handler
    delete: Handler
    list: Handler


def trigger_routes(record_of: Callable[[web.Request], Awaitable[FunctionRecord]],
                   read_body: Callable[[dict, bool], dict], shape: Callable[[dict, web.Request], dict],
                   made: Callable[[web.Request, FunctionRecord, Trigger], Awaitable[None]] | None = None
                   ) -> TriggerRoutes:
    """The five trigger handlers of a surface: `record_of` finds the path's function, `read_body` makes a create
    or update body `/v1`'s (the body, whether it creates), `shape` shows a trigger (`/v1`'s description of it) in
    the surface's form, `made` runs after a trigger is made."""

    async def answer(request: web.Request, trigger: Trigger) -> web.Response:
        return web.json_response(shape(await request.config_dict[TRIGGERS].describe(trigger), request))

    async def create(request: web.Request) -> web.Response:
        record = await record_of(request)
        trigger = await request.config_dict[TRIGGERS].create(record, read_body(json_body(request), True))
        if made is not None:
            await made(request, record, trigger)
        return await answer(request, trigger)

    async def get(request: web.Request) -> web.Response:
        record = await record_of(request)
        return await answer(request, await request.config_dict[TRIGGERS].get(record.name,
                                                                               request.match_info["trigger"]))

    async def update(request: web.Request) -> web.Response:
        record = await record_of(request)
        service = request.config_dict[TRIGGERS]
        current = await service.get(record.name, request.match_info["trigger"])
        body = read_body({"triggerType": current.type, **json_body(request)}, False)
        body.pop("triggerType", None)
        return await answer(request, await service.update(record, current.name, body))

    async def delete(request: web.Request) -> web.Response:
        record = await record_of(request)
        await request.config_dict[TRIGGERS].delete(record.name, request.match_info["trigger"])
        return web.Response(status=204)

    async def list_(request: web.Request) -> web.Response:
        record = await record_of(request)
        service = request.config_dict[TRIGGERS]
        triggers = {t.name: t for t in await service.list(record.name)}
        names, token = page(list(triggers), request)
        return listed("triggers", [shape(await service.describe(triggers[n]), request) for n in names], token)

    return TriggerRoutes(create, get, update, delete, list_)
