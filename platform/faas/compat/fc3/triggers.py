"""FC 3.0's triggers: the platform's http, timer and queue triggers."""

from __future__ import annotations

from aiohttp import web

from ...api.keys import SERVICE, TRIGGERS
from ..listing import page
from ..signed import json_body
from . import model
from .common import base_url, path_fc_name, platform_name


# -- triggers
async def create_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(platform_name(request))
    service = request.config_dict[TRIGGERS]
    made = await service.create(record, model.trigger_body(json_body(request), creating=True))
    return web.json_response(model.trigger(await service.describe(made), base_url(request), path_fc_name(request)))


async def get_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(platform_name(request))
    service = request.config_dict[TRIGGERS]
    found = await service.get(record.name, request.match_info["trigger"])
    return web.json_response(model.trigger(await service.describe(found), base_url(request), path_fc_name(request)))


async def update_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(platform_name(request))
    service = request.config_dict[TRIGGERS]
    body = json_body(request)
    current = await service.get(record.name, request.match_info["trigger"])
    body = model.trigger_body({"triggerType": current.type, **body}, creating=False)
    body.pop("triggerType", None)
    changed = await service.update(record, current.name, body)
    return web.json_response(model.trigger(await service.describe(changed), base_url(request), path_fc_name(request)))


async def delete_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(platform_name(request))
    await request.config_dict[TRIGGERS].delete(record.name, request.match_info["trigger"])
    return web.Response(status=204)


async def list_triggers(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(platform_name(request))
    service = request.config_dict[TRIGGERS]
    triggers = {t.name: t for t in await service.list(record.name)}
    names, token = page(list(triggers), request)
    base, fc_name = base_url(request), path_fc_name(request)
    body: dict = {"triggers": [model.trigger(await service.describe(triggers[n]), base, fc_name) for n in names]}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)


