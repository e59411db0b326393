"""Lambda's versions and aliases: PublishVersion, ListVersionsByFunction, and CreateAlias, GetAlias, UpdateAlias,
DeleteAlias, ListAliases with `RoutingConfig.AdditionalVersionWeights`, on the platform's releases."""

from __future__ import annotations

from aiohttp import web

from ... import defaults
from ...api.keys import RELEASES
from ...errors import InvalidArgument
from ...releases.model import Alias, Version
from ..listing import page_after
from ..signed import json_body
from .common import LATEST, function_arn, function_of, max_items
from .model import configuration

_ALIAS_FIELDS = {"Name", "FunctionVersion", "Description", "RoutingConfig", "RevisionId"}


async def publish_version(request: web.Request) -> web.Response:
    name, native, _ = function_of(request)
    body = json_body(request)
    unknown = sorted(set(body) - {"Description", "CodeSha256", "RevisionId"})
    if unknown:
        raise InvalidArgument(f"PublishVersion does not take {', '.join(unknown)} here")
    version = await request.config_dict[RELEASES].publish(native, {"description": body.get("Description", "")})
    if body.get("CodeSha256") not in (None, version.record.code_sha256):
        raise InvalidArgument("CodeSha256 is not the code of the function's $LATEST")
    return web.json_response(configuration(request, version.record, name), status=201)


async def list_versions(request: web.Request) -> web.Response:
    """ListVersionsByFunction: $LATEST, then each version, oldest first, `MaxItems` from after `Marker`."""
    name, native, _ = function_of(request)
    releases = request.config_dict[RELEASES]
    latest = await releases.shown(native, defaults.LATEST)
    versions = await all_versions(request, native)
    records = {LATEST: latest} | {v.id: v.record for v in sorted(versions, key=lambda v: int(v.id))}
    ids, marker = list(records), request.query.get("Marker")
    if marker is not None and marker not in records:
        raise InvalidArgument("Marker is not a version of the function")
    start = 0 if marker is None else ids.index(marker) + 1
    chosen = ids[start:start + max_items(request)]
    body: dict = {"Versions": [configuration(request, records[vid], name) for vid in chosen]}
    if start + len(chosen) < len(ids):
        body["NextMarker"] = chosen[-1]
    return web.json_response(body)


async def all_versions(request: web.Request, native: str) -> list[Version]:
    """Every version of the function (the platform lists them newest first, a page at a time)."""
    releases = request.config_dict[RELEASES]
    versions, token = [], None
    while True:
        page, token = await releases.list_versions(native, 100, token)
        versions += page
        if token is None:
            return versions


async def create_alias(request: web.Request) -> web.Response:
    name, native, _ = function_of(request)
    alias = await request.config_dict[RELEASES].create_alias(native, _alias_body(json_body(request), creating=True))
    return web.json_response(alias_configuration(request, name, alias), status=201)


async def get_alias(request: web.Request) -> web.Response:
    name, native, _ = function_of(request)
    alias = await request.config_dict[RELEASES].get_alias(native, request.match_info["alias"])
    return web.json_response(alias_configuration(request, name, alias))


async def update_alias(request: web.Request) -> web.Response:
    name, native, _ = function_of(request)
    body = _alias_body(json_body(request), creating=False)
    alias = await request.config_dict[RELEASES].update_alias(native, request.match_info["alias"], body)
    return web.json_response(alias_configuration(request, name, alias))


async def delete_alias(request: web.Request) -> web.Response:
    _, native, _ = function_of(request)
    await request.config_dict[RELEASES].delete_alias(native, request.match_info["alias"])
    return web.Response(status=204)


async def list_aliases(request: web.Request) -> web.Response:
    name, native, _ = function_of(request)
    aliases = {a.name: a for a in await request.config_dict[RELEASES].list_aliases(native)
               if request.query.get("FunctionVersion") in (None, *a.versions)}
    chosen, marker = page_after(list(aliases), request.query.get("Marker", ""), max_items(request))
    body: dict = {"Aliases": [alias_configuration(request, name, aliases[a]) for a in chosen]}
    if marker is not None:
        body["NextMarker"] = marker
    return web.json_response(body)


def alias_configuration(request: web.Request, name: str, alias: Alias) -> dict:
    """An alias as Lambda's AliasConfiguration shows it."""
    shown: dict = {"AliasArn": function_arn(request, name, alias.name), "Name": alias.name,
                   "FunctionVersion": alias.version_id, "Description": alias.description,
                   "RevisionId": f"{alias.updated_at:.6f}"}
    if alias.additional is not None:
        shown["RoutingConfig"] = {"AdditionalVersionWeights": {alias.additional[0]: alias.additional[1]}}
    return shown


def _alias_body(body: dict, creating: bool) -> dict:
    """The `/v1` alias body of a CreateAlias or UpdateAlias input."""
    unknown = sorted(set(body) - _ALIAS_FIELDS)
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    out: dict = {}
    if creating:
        out["aliasName"] = body.get("Name")
    if "FunctionVersion" in body or creating:
        out["versionId"] = body.get("FunctionVersion")
    if "Description" in body:
        out["description"] = body["Description"]
    if "RoutingConfig" in body:
        routing = body["RoutingConfig"]
        weights = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
        if not isinstance(weights, dict) or set(routing) - {"AdditionalVersionWeights"}:
            raise InvalidArgument("RoutingConfig is {\"AdditionalVersionWeights\": {version: weight}}")
        out["additionalVersionWeight"] = weights
    return out
