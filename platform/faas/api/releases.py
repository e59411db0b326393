"""Handlers of versions, aliases and per-qualifier settings (provision and async-invoke configs)."""

from __future__ import annotations

from aiohttp import web

from .. import defaults
from ..models import check_name
from ..webio import qualifier_of
from .handlers import read_json, whole_query
from .keys import RELEASES


def _name(request: web.Request) -> str:
    return check_name(request.match_info["name"])


# -- versions
async def publish_version(request: web.Request) -> web.Response:
    name = _name(request)
    body = await read_json(request) if request.body_exists else {}
    version = await request.app[RELEASES].publish(name, body)
    return web.json_response(version.to_api(), status=201,
                             headers={"Location": f"/v1/functions/{name}/versions/{version.id}"})


async def list_versions(request: web.Request) -> web.Response:
    limit = whole_query(request.query, "limit", defaults.VERSION_LIST_LIMIT, 1, defaults.VERSION_LIST_LIMIT)
    versions, token = await request.app[RELEASES].list_versions(_name(request), limit, request.query.get("nextToken"))
    return web.json_response({"versions": [v.to_api() for v in versions], "nextToken": token})


async def get_version(request: web.Request) -> web.Response:
    version = await request.app[RELEASES].get_version(_name(request), request.match_info["version_id"])
    return web.json_response(version.to_api())


async def delete_version(request: web.Request) -> web.Response:
    await request.app[RELEASES].delete_version(_name(request), request.match_info["version_id"])
    return web.Response(status=204)


# -- aliases
async def create_alias(request: web.Request) -> web.Response:
    name = _name(request)
    alias = await request.app[RELEASES].create_alias(name, await read_json(request))
    return web.json_response(alias.to_api(), status=201,
                             headers={"Location": f"/v1/functions/{name}/aliases/{alias.name}"})


async def list_aliases(request: web.Request) -> web.Response:
    aliases = await request.app[RELEASES].list_aliases(_name(request))
    return web.json_response({"aliases": [a.to_api() for a in aliases]})


async def get_alias(request: web.Request) -> web.Response:
    alias = await request.app[RELEASES].get_alias(_name(request), request.match_info["alias"])
    return web.json_response(alias.to_api())


async def update_alias(request: web.Request) -> web.Response:
    name = _name(request)
    alias = await request.app[RELEASES].update_alias(name, request.match_info["alias"], await read_json(request))
    return web.json_response(alias.to_api())


async def delete_alias(request: web.Request) -> web.Response:
    await request.app[RELEASES].delete_alias(_name(request), request.match_info["alias"])
    return web.Response(status=204)


# -- per-qualifier settings
async def get_provision_config(request: web.Request) -> web.Response:
    return web.json_response(await request.app[RELEASES].get_provision(_name(request), qualifier_of(request)))


async def put_provision_config(request: web.Request) -> web.Response:
    name, qualifier = _name(request), qualifier_of(request)
    return web.json_response(await request.app[RELEASES].put_provision(name, qualifier, await read_json(request)))


async def delete_provision_config(request: web.Request) -> web.Response:
    await request.app[RELEASES].put_provision(_name(request), qualifier_of(request), {"target": 0})
    return web.Response(status=204)


async def get_async_config(request: web.Request) -> web.Response:
    return web.json_response(await request.app[RELEASES].get_async_config(_name(request), qualifier_of(request)))


async def put_async_config(request: web.Request) -> web.Response:
    name, qualifier = _name(request), qualifier_of(request)
    return web.json_response(await request.app[RELEASES].put_async_config(name, qualifier, await read_json(request)))


async def delete_async_config(request: web.Request) -> web.Response:
    await request.app[RELEASES].delete_async_config(_name(request), qualifier_of(request))
    return web.Response(status=204)


def add_release_routes(app: web.Application) -> None:
    base = "/v1/functions/{name}"
    app.router.add_routes([
        web.post(f"{base}/versions", publish_version),
        web.get(f"{base}/versions", list_versions),
        web.get(base + "/versions/{version_id}", get_version),
        web.delete(base + "/versions/{version_id}", delete_version),
        web.post(f"{base}/aliases", create_alias),
        web.get(f"{base}/aliases", list_aliases),
        web.get(base + "/aliases/{alias}", get_alias),
        web.put(base + "/aliases/{alias}", update_alias),
        web.delete(base + "/aliases/{alias}", delete_alias),
        web.get(f"{base}/provision-config", get_provision_config),
        web.put(f"{base}/provision-config", put_provision_config),
        web.delete(f"{base}/provision-config", delete_provision_config),
        web.get(f"{base}/async-invoke-config", get_async_config),
        web.put(f"{base}/async-invoke-config", put_async_config),
        web.delete(f"{base}/async-invoke-config", delete_async_config),
    ])
