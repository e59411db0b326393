"""FC 2.0's service versions and aliases (faas.compat.fc2.releases), and the provision and async-invoke configs
of a function under a qualifier (`/services/{service}.{qualifier}/functions/{function}/...`)."""

from __future__ import annotations

from aiohttp import web

from ...api.keys import RELEASES
from ...errors import AliasNotFound, FunctionNotFound, InvalidArgument
from ...models import AsyncConfig
from ...qualifiers import LATEST
from ..fc3 import model as fc3
from ..listing import limit_of, listed, page
from ..names import name_pairs
from ..signed import json_body
from . import model
from .common import function_record, service_of, service_releases, services
from .model import platform_name


# -- versions
async def publish_version(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    return web.json_response(model.version(await service_releases(request).publish(service, json_body(request))))


async def list_versions(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    direction = request.query.get("direction", "BACKWARD")
    if direction not in ("BACKWARD", "FORWARD"):
        raise InvalidArgument("direction must be BACKWARD (newest first) or FORWARD")
    start = request.query.get("nextToken") or request.query.get("startKey") or None
    versions, token = await service_releases(request).list_versions(service, limit_of(request), start,
                                                                     direction == "FORWARD")
    return listed("versions", [model.version(v) for v in versions], token, direction=direction)


async def delete_version(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    await service_releases(request).delete_version(service, request.match_info["version"])
    return web.Response(status=204)


# -- aliases
async def create_alias(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    alias = await service_releases(request).create_alias(service, fc3.alias_body(json_body(request)))
    return web.json_response(fc3.alias(alias))


async def get_alias(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    return web.json_response(fc3.alias(await service_releases(request).get_alias(service,
                                                                                    request.match_info["alias"])))


async def update_alias(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    body = fc3.alias_body(json_body(request))
    if "aliasName" in body:
        raise InvalidArgument("aliasName is the path's: UpdateAlias does not take it")
    alias = await service_releases(request).update_alias(service, request.match_info["alias"], body)
    return web.json_response(fc3.alias(alias))


async def delete_alias(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    await service_releases(request).delete_alias(service, request.match_info["alias"])
    return web.Response(status=204)


async def list_aliases(request: web.Request) -> web.Response:
    service, _ = service_of(request)
    aliases = await service_releases(request).list_aliases(service)
    names, token = page(list(aliases), request)
    return listed("aliases", [fc3.alias(aliases[n]) for n in names], token)


# -- a qualifier's configs (LATEST's or a service alias's: a service version has none of its own here)
async def _target(request: web.Request) -> tuple[str, str, str, str]:
    """The path's service, qualifier, function (its FC name), and the function qualifier that stands for it."""
    service, qualifier = service_of(request, qualified=True)
    _, fc_name, _ = await function_record(request, qualified=True)
    return service, qualifier, fc_name, await service_releases(request).qualifier(service, fc_name, qualifier,
                                                                                    versions=False)


async def put_provision_config(request: web.Request) -> web.Response:
    service, qualifier, fc_name, target = await _target(request)
    config = await request.config_dict[RELEASES].put_provision(
        platform_name(service, fc_name), target, {"target": fc3.provision_target(json_body(request))})
    return web.json_response(model.provision_config(service, qualifier, fc_name, config))


async def get_provision_config(request: web.Request) -> web.Response:
    service, qualifier, fc_name, target = await _target(request)
    config = await request.config_dict[RELEASES].get_provision(platform_name(service, fc_name), target)
    return web.json_response(model.provision_config(service, qualifier, fc_name, config))


async def list_provision_configs(request: web.Request) -> web.Response:
    """The provision configs with a target, of every service's aliases (or `serviceName`'s, or its `qualifier`)."""
    wanted, qualifier = request.query.get("serviceName"), request.query.get("qualifier")
    if qualifier and not wanted:
        raise InvalidArgument("qualifier needs serviceName")
    store, releases = services(request), request.config_dict[RELEASES]
    found: dict[str, dict] = {}
    for service in [model.check_name(wanted, "serviceName")] if wanted else \
            sorted(s["serviceName"] for s in await store.all()):
        aliases = [qualifier] if qualifier else list(await service_releases(request).list_aliases(service))
        for fn in await store.functions(service):
            for alias in aliases:
                try:
                    config = await releases.get_provision(platform_name(service, fn), alias)
                except (AliasNotFound, FunctionNotFound):
                    continue
                if config["target"]:
                    shaped = model.provision_config(service, alias, fn, config)
                    found[shaped["resource"]] = shaped
    names, token = page(list(found), request)
    return listed("provisionConfigs", [found[n] for n in names], token)


async def put_async_config(request: web.Request) -> web.Response:
    service, qualifier, fc_name, target = await _target(request)
    config = await request.config_dict[RELEASES].put_async_config(
        platform_name(service, fc_name), target, model.async_config_body(json_body(request)))
    return web.json_response(await _async_config(request, service, qualifier, fc_name, config))


async def get_async_config(request: web.Request) -> web.Response:
    service, qualifier, fc_name, target = await _target(request)
    config = await request.config_dict[RELEASES].get_async_config(platform_name(service, fc_name), target)
    return web.json_response(await _async_config(request, service, qualifier, fc_name, config))


async def delete_async_config(request: web.Request) -> web.Response:
    service, _, fc_name, target = await _target(request)
    await request.config_dict[RELEASES].delete_async_config(platform_name(service, fc_name), target)
    return web.Response(status=204)


async def list_async_configs(request: web.Request) -> web.Response:
    """The async-invoke configs set on a function: LATEST's (when not the defaults) and its service aliases'."""
    service, fc_name, record = await function_record(request)
    releases = request.config_dict[RELEASES]
    found: dict[str, dict] = {}
    if record.spec.async_config != AsyncConfig():
        found[LATEST] = await releases.get_async_config(record.name, LATEST)
    for alias in await service_releases(request).list_aliases(service):
        try:
            config = await releases.get_async_config(record.name, alias)
        except AliasNotFound:
            continue
        if config["source"] == "qualifier":
            found[alias] = config
    names, token = page(list(found), request)
    return listed("configs", [await _async_config(request, service, n, fc_name, found[n]) for n in names], token)


async def _async_config(request: web.Request, service: str, qualifier: str, fc_name: str, config: dict) -> dict:
    fc_names = await name_pairs(request).fc_names(model.destination_functions(config))
    return model.async_config(service, qualifier, fc_name, config, fc_names)
