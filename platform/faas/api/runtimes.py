"""The runtimes a function's spec may name (`GET /v1/runtimes`): each with what it runs and its image."""

from __future__ import annotations

from aiohttp import web

from .. import defaults
from .keys import SERVICE

KINDS = {"python3.11": "python", "custom-container": "container"}
"""What each of defaults.RUNTIMES is: a Python interpreter the platform provides, or the function's own image."""


async def list_runtimes(request: web.Request) -> web.Response:
    builder = request.app[SERVICE].builder
    listed = []
    for name in defaults.RUNTIMES:
        entry: dict = {"name": name, "kind": KINDS[name]}
        if KINDS[name] == "python":
            entry |= {"pythonVersion": await builder.python_version(), "image": await builder.runtime_image(),
                      "handlerTypes": list(defaults.HANDLER_TYPES)}
        else:
            entry |= {"protocols": list(defaults.CONTAINER_PROTOCOLS)}
        listed.append(entry)
    return web.json_response({"runtimes": listed})
