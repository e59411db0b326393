"""FC 3.0's layers: CreateLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers, ListLayerVersions and
DeleteLayerVersion on the platform's layers, and the layer ARNs a function's `layers` lists.

A layer's FC name that is not a platform name (`My_Layer`) gets a platform name derived from it, as a function's
does (faas.compat.names), and is shown under its own; its ARNs name the platform name, which names it again."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ...api.keys import LAYERS
from ...errors import InvalidArgument, LayerNotFound
from ...layers.model import LayerVersion
from ..listing import limit_of, listed, page
from ..names import native_name
from ..signed import json_body
from .model import RUNTIMES, iso_time, layer_arn, ref_of_arn

_FC_LAYER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def layer_name(value: Any) -> str:
    """The platform name of an FC layer name (InvalidArgument when FC would refuse it)."""
    if not isinstance(value, str) or not _FC_LAYER_NAME.fullmatch(value):
        raise InvalidArgument(f"layerName must be a letter or '_', then letters, digits, '_' or '-', 64 at most, not "
                              f"{value!r}")
    return native_name(value)


def layer(version: LayerVersion) -> dict:
    """FC 3.0's Layer."""
    return {"layerName": version.shown_name, "version": version.version, "description": version.description,
            "codeSize": version.code_size, "codeChecksum": version.code_sha256,
            "createTime": iso_time(version.created_at), "acl": "0", "license": "",
            "compatibleRuntime": list(version.compatible_runtimes), "layerVersionArn": layer_arn(version.ref)}


def _publish_body(body: dict) -> dict:
    unknown = sorted(set(body) - {"code", "compatibleRuntime", "description", "license"})
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    code = body.get("code")
    if not isinstance(code, dict) or code.get("ossBucketName") or code.get("ossObjectName"):
        raise InvalidArgument("code must be an object with zipFile (a base64 zip); OSS is not supported")
    out: dict = {"code": {"zipFile": code.get("zipFile")}, "description": body.get("description") or ""}
    runtimes = body.get("compatibleRuntime")
    if runtimes is not None:
        if not isinstance(runtimes, list) or not all(isinstance(r, str) and r in RUNTIMES for r in runtimes):
            raise InvalidArgument(f"compatibleRuntime must list runtimes among {', '.join(RUNTIMES)}")
        out["compatibleRuntimes"] = list(dict.fromkeys(RUNTIMES[r] for r in runtimes))
    return out


async def create_layer_version(request: web.Request) -> web.Response:
    fc_name = request.match_info["layer"]
    made = await request.config_dict[LAYERS].publish(layer_name(fc_name), _publish_body(json_body(request)),
                                                     display_name=fc_name)
    return web.json_response(layer(made))


async def get_layer_version(request: web.Request) -> web.Response:
    found = await request.config_dict[LAYERS].get(layer_name(request.match_info["layer"]),
                                                   request.match_info["version"])
    return web.json_response(layer(found))


async def get_layer_version_by_arn(request: web.Request) -> web.Response:
    name, _, version = ref_of_arn(unquote(request.match_info["arn"])).rpartition(":")
    return web.json_response(layer(await request.config_dict[LAYERS].get(name, version)))


async def delete_layer_version(request: web.Request) -> web.Response:
    await request.config_dict[LAYERS].delete(layer_name(request.match_info["layer"]), request.match_info["version"])
    return web.Response(status=204)


async def list_layers(request: web.Request) -> web.Response:
    """The newest version of each layer (none is public or official here), by name, a page at a time."""
    if any(request.query.get(k, "").lower() == "true" for k in ("public", "official")):
        return web.json_response({"layers": []})
    by_name = {v.shown_name: v for v in await request.config_dict[LAYERS].newest()}
    names, token = page(list(by_name), request)
    return listed("layers", [layer(by_name[n]) for n in names], token)


async def list_layer_versions(request: web.Request) -> web.Response:
    """A layer's versions, newest first, from `startVersion` down, a page at a time (`nextVersion`)."""
    start = request.query.get("startVersion")
    if start is not None and (not start.isascii() or not start.isdigit()):
        raise InvalidArgument("startVersion must be a version number")
    try:
        versions = await request.config_dict[LAYERS].versions(layer_name(request.match_info["layer"]))
    except LayerNotFound:
        versions = []
    chosen = [v for v in versions if start is None or v.version <= int(start)]
    limit = limit_of(request)
    body: dict = {"layers": [layer(v) for v in chosen[:limit]]}
    if len(chosen) > limit:
        body["nextVersion"] = chosen[limit].version
    return web.json_response(body)
