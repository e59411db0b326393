"""FC 3.0's versions and aliases, and the settings a qualifier has: provision and async-invoke configs."""

from __future__ import annotations

from aiohttp import web

from ...api.keys import RELEASES
from ...errors import InvalidArgument
from ..listing import limit_of, listed, page
from ..signed import json_body
from . import model
from .common import path_fc_name, platform_name, qualifier_of


# -- versions and aliases
async def publish_version(request: web.Request) -> web.Response:
    body = json_body(request)
    if set(body) - {"description"}:
        raise InvalidArgument("PublishFunctionVersion takes only description")
    version = await request.config_dict[RELEASES].publish(platform_name(request), body)
    return web.json_response(model.version(version))


async def list_versions(request: web.Request) -> web.Response:
    direction = request.query.get("direction", "BACKWARD")
    if direction != "BACKWARD":
        raise InvalidArgument("direction must be BACKWARD (newest first): the platform lists versions that way only")
    token = request.query.get("nextToken") or None
    versions, token = await request.config_dict[RELEASES].list_versions(platform_name(request), limit_of(request),
                                                                        token)
    return listed("versions", [model.version(v) for v in versions], token, direction=direction)


async def delete_version(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].delete_version(platform_name(request), request.match_info["version"])
    return web.Response(status=204)


async def create_alias(request: web.Request) -> web.Response:
    body = model.alias_body(json_body(request))
    alias = await request.config_dict[RELEASES].create_alias(platform_name(request), body)
    return web.json_response(model.alias(alias))


async def get_alias(request: web.Request) -> web.Response:
    alias = await request.config_dict[RELEASES].get_alias(platform_name(request), request.match_info["alias"])
    return web.json_response(model.alias(alias))


async def update_alias(request: web.Request) -> web.Response:
    body = model.alias_body(json_body(request))
    if "aliasName" in body:
        raise InvalidArgument("aliasName is the path's: UpdateAlias does not take it")
    alias = await request.config_dict[RELEASES].update_alias(platform_name(request), request.match_info["alias"], body)
    return web.json_response(model.alias(alias))


async def delete_alias(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].delete_alias(platform_name(request), request.match_info["alias"])
    return web.Response(status=204)


async def list_aliases(request: web.Request) -> web.Response:
    aliases = {a.name: a for a in await request.config_dict[RELEASES].list_aliases(platform_name(request))}
    names, token = page(list(aliases), request)
    return listed("aliases", [model.alias(aliases[n]) for n in names], token)


# -- per-qualifier settings
async def put_provision_config(request: web.Request) -> web.Response:
    name, qualifier = platform_name(request), qualifier_of(request)
    config = await request.config_dict[RELEASES].put_provision(
        name, qualifier, {"target": model.provision_target(json_body(request))})
    return web.json_response(model.provision_config(path_fc_name(request), config))


async def get_provision_config(request: web.Request) -> web.Response:
    name = platform_name(request)
    config = await request.config_dict[RELEASES].get_provision(name, qualifier_of(request))
    return web.json_response(model.provision_config(path_fc_name(request), config))


async def delete_provision_config(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].put_provision(platform_name(request), qualifier_of(request), {"target": 0})
    return web.Response(status=204)


async def put_async_config(request: web.Request) -> web.Response:
    name, qualifier = platform_name(request), qualifier_of(request)
    config = await request.config_dict[RELEASES].put_async_config(
        name, qualifier, model.async_config_body(json_body(request)))
    return web.json_response(model.async_config(path_fc_name(request), config))


async def get_async_config(request: web.Request) -> web.Response:
    name = platform_name(request)
    config = await request.config_dict[RELEASES].get_async_config(name, qualifier_of(request))
    return web.json_response(model.async_config(path_fc_name(request), config))


async def delete_async_config(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].delete_async_config(platform_name(request), qualifier_of(request))
    return web.Response(status=204)


