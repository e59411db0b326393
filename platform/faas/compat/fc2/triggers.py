"""FC 2.0's triggers of a service's function: the platform's http, timer and queue triggers, read and written as
FC 3.0's are (faas.compat.fc3.model), with `triggerConfig` an object. An HTTP trigger made through FC 2.0 makes a
Python function an HTTP function, a WSGI application, as FC 2.0's are."""

from __future__ import annotations

import json

from aiohttp import web

from ...api.keys import SERVICE, TRIGGERS
from ...models import FunctionRecord
from ..fc3 import model as fc3
from ..listing import page
from ..signed import json_body
from .common import function_of, platform_name, service_of, services


async def _record(request: web.Request) -> FunctionRecord:
    service, _ = service_of(request)
    await services(request).get(service)
    return await request.config_dict[SERVICE].get(platform_name(service, function_of(request)))


def _shape(described: dict, request: web.Request) -> dict:
    """FC 2.0's trigger: FC 3.0's with its config an object and its URLs at the top."""
    out = fc3.trigger(described, f"{request.scheme}://{request.host}", function_of(request))
    out["triggerConfig"] = json.loads(out["triggerConfig"])
    for key in ("status", "targetArn"):
        out.pop(key)
    http = out.pop("httpTrigger", None)
    if http is not None:
        out |= http
    out |= {"sourceArn": "", "invocationRole": ""}
    return out


async def create_trigger(request: web.Request) -> web.Response:
    record = await _record(request)
    body = fc3.trigger_body(json_body(request), creating=True)
    service = request.config_dict[TRIGGERS]
    made = await service.create(record, body)
    if made.type == "http" and record.spec.custom_container is None and record.spec.handler_type != "wsgi":
        await request.config_dict[SERVICE].update(record.name, {"handlerType": "wsgi"})
    return web.json_response(_shape(await service.describe(made), request))


async def get_trigger(request: web.Request) -> web.Response:
    record = await _record(request)
    service = request.config_dict[TRIGGERS]
    found = await service.get(record.name, request.match_info["trigger"])
    return web.json_response(_shape(await service.describe(found), request))


async def update_trigger(request: web.Request) -> web.Response:
    record = await _record(request)
    service = request.config_dict[TRIGGERS]
    current = await service.get(record.name, request.match_info["trigger"])
    body = fc3.trigger_body({"triggerType": current.type, **json_body(request)}, creating=False)
    body.pop("triggerType", None)
    changed = await service.update(record, current.name, body)
    return web.json_response(_shape(await service.describe(changed), request))


async def delete_trigger(request: web.Request) -> web.Response:
    record = await _record(request)
    await request.config_dict[TRIGGERS].delete(record.name, request.match_info["trigger"])
    return web.Response(status=204)


async def list_triggers(request: web.Request) -> web.Response:
    record = await _record(request)
    service = request.config_dict[TRIGGERS]
    triggers = {t.name: t for t in await service.list(record.name)}
    names, token = page(list(triggers), request)
    body: dict = {"triggers": [_shape(await service.describe(triggers[n]), request) for n in names]}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)
