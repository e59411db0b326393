"""FC 2.0's triggers of a service's function: the platform's http, timer and queue triggers, read and written as
FC 3.0's are (faas.compat.fc3.model), with `triggerConfig` an object. An HTTP trigger made through FC 2.0 makes a
Python function an HTTP function, a WSGI application, as FC 2.0's are."""

from __future__ import annotations

import json

from aiohttp import web

from ...api.keys import SERVICE
from ...errors import InvalidArgument
from ...models import FunctionRecord
from ...qualifiers import is_version_id
from ...triggers.model import Trigger
from ..fc3 import model as fc3
from ..signed import base_url
from ..triggers import trigger_routes
from .common import function_of, function_record


async def _record(request: web.Request) -> FunctionRecord:
    _, _, record = await function_record(request)
    return record


def _shape(described: dict, request: web.Request) -> dict:
    """FC 2.0's trigger: FC 3.0's with its config an object and its URLs at the top."""
    out = fc3.trigger(described, base_url(request), function_of(request))
    out["triggerConfig"] = json.loads(out["triggerConfig"])
    for key in ("status", "targetArn"):
        out.pop(key)
    http = out.pop("httpTrigger", None)
    if http is not None:
        out |= http
    out |= {"sourceArn": "", "invocationRole": ""}
    return out


async def _wsgi(request: web.Request, record: FunctionRecord, trigger: Trigger) -> None:
    """An HTTP trigger made through FC 2.0 makes a Python function an HTTP function (a WSGI application)."""
    if trigger.type == "http" and not record.spec.serves_http and record.spec.handler_type != "wsgi":
        await request.config_dict[SERVICE].update(record.name, {"handlerType": "wsgi"})


def _body(body: dict, creating: bool) -> dict:
    """FC 3.0's trigger body; its qualifier LATEST or a service alias (each function has the alias under the same
    name). A service version is refused: the function's version of it has another number."""
    if is_version_id(str(body.get("qualifier", ""))):
        raise InvalidArgument("a trigger of a service runs LATEST or one of its aliases, not a version: make an "
                              "alias of that version")
    return fc3.trigger_body(body, creating)


TRIGGER_ROUTES = trigger_routes(_record, _body, _shape, _wsgi)
