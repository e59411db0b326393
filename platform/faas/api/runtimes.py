"""The runtimes a function's spec may name (`GET /v1/runtimes`): each with what it runs and its image."""

from __future__ import annotations

from aiohttp import web

from .. import defaults
from ..models import CUSTOM
from .keys import SERVICE


async def list_runtimes(request: web.Request) -> web.Response:
    listed: list[dict] = []
    for name in defaults.RUNTIMES:
        if name == CUSTOM:  # the function's own image
            listed.append({"name": name, "kind": "container", "protocols": list(defaults.CONTAINER_PROTOCOLS)})
        else:  # an interpreter the platform provides
            image, version = await request.app[SERVICE].builder.python_runtime()
            listed.append({"name": name, "kind": "python", "pythonVersion": version, "image": image,
                           "handlerTypes": list(defaults.HANDLER_TYPES)})
    return web.json_response({"runtimes": listed})
