"""FC 3.0's triggers: the platform's http, timer and queue triggers (faas.compat.triggers), `triggerConfig` a
JSON string."""

from __future__ import annotations

from aiohttp import web

from ...api.keys import SERVICE
from ...models import FunctionRecord
from ..signed import base_url
from ..triggers import trigger_routes
from . import model
from .common import path_fc_name, platform_name


async def _record(request: web.Request) -> FunctionRecord:
    return await request.config_dict[SERVICE].get(platform_name(request))


def _shape(described: dict, request: web.Request) -> dict:
    return model.trigger(described, base_url(request), path_fc_name(request))


TRIGGER_ROUTES = trigger_routes(_record, model.trigger_body, _shape)
