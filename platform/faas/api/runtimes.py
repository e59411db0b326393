"""The runtimes a function's spec may name (`GET /v1/runtimes`): each with what it runs and its image."""

from __future__ import annotations

from aiohttp import web

from .. import defaults
from ..errors import ServiceUnavailable
from ..runtimes import RUNTIMES
from .keys import SERVICE


async def list_runtimes(request: web.Request) -> web.Response:
    builder = request.app[SERVICE].builder
    listed: list[dict] = []
    for runtime in RUNTIMES.values():
        if runtime.kind == "container":  # the function's own image
            listed.append({"name": runtime.name, "kind": "container",
                           "protocols": list(defaults.CONTAINER_PROTOCOLS)})
            continue
        image: str | None
        version: str | None
        available: str | None = None
        try:  # an image the platform provides
            image, version = await builder.python_runtime(runtime.name)
        except ServiceUnavailable as exc:  # (its base is not on this host: scripts/setup builds it)
            image, version, available = None, runtime.python, exc.message
        entry: dict = {"name": runtime.name, "kind": runtime.kind, "pythonVersion": version, "image": image}
        if runtime.kind == "python":
            entry["handlerTypes"] = list(defaults.HANDLER_TYPES)
        else:
            entry |= {"protocols": ["fc"], "startedBy": "customRuntimeConfig.command, or the zip's bootstrap"}
        if available is not None:
            entry["unavailable"] = available
        listed.append(entry)
    return web.json_response({"runtimes": listed})
