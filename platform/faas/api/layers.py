"""Handlers of layers: publish a version (a zip of the files its functions see under /opt), list, get, delete."""

from __future__ import annotations

from aiohttp import web

from .handlers import read_json
from .keys import LAYERS


async def publish_layer_version(request: web.Request) -> web.Response:
    layer = await request.app[LAYERS].publish(request.match_info["name"], await read_json(request))
    return web.json_response(layer.to_api(), status=201,
                             headers={"Location": f"/v1/layers/{layer.name}/versions/{layer.version}"})


async def list_layers(request: web.Request) -> web.Response:
    return web.json_response({"layers": [v.to_api() for v in await request.app[LAYERS].newest()]})


async def list_layer_versions(request: web.Request) -> web.Response:
    versions = await request.app[LAYERS].versions(request.match_info["name"])
    return web.json_response({"versions": [v.to_api() for v in versions]})


async def get_layer_version(request: web.Request) -> web.Response:
    layer = await request.app[LAYERS].get(request.match_info["name"], request.match_info["version"])
    return web.json_response(layer.to_api())


async def delete_layer_version(request: web.Request) -> web.Response:
    await request.app[LAYERS].delete(request.match_info["name"], request.match_info["version"])
    return web.Response(status=204)


def add_layer_routes(app: web.Application) -> None:
    app.router.add_routes([
        web.get("/v1/layers", list_layers),
        web.post("/v1/layers/{name}/versions", publish_layer_version),
        web.get("/v1/layers/{name}/versions", list_layer_versions),
        web.get("/v1/layers/{name}/versions/{version}", get_layer_version),
        web.delete("/v1/layers/{name}/versions/{version}", delete_layer_version),
    ])
