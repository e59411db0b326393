"""Lambda's layers (`/2018-10-31/layers`): PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
ListLayerVersions and DeleteLayerVersion on the platform's layers, and the layer version ARNs a function's `Layers`
lists (`arn:aws:lambda:<region>:000000000000:layer:<name>:<version>`).

A Lambda layer name that is not a platform name (`My_Layer`) gets a platform name derived from it, as a function's
does (faas.compat.names), and is shown under its own; its ARNs name the platform name, which names it again."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from aiohttp import web

from ...api.keys import LAYERS
from ...errors import InvalidArgument, LayerNotFound
from ...layers.model import LayerVersion
from ...runtimes import nearest
from ..listing import page_after
from ..names import native_name
from ..signed import json_body
from .common import ACCOUNT_ID, lambda_time, max_items, region

LAYERS_PREFIX = "/2018-10-31"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LAYER_ARN = re.compile(r"arn:aws:lambda:[a-z0-9-]{1,32}:(\d{12}):layer:([A-Za-z0-9_-]{1,64})(?::([1-9][0-9]{0,9}))?")


def _platform_name(value: str) -> str:
    """The platform name of a layer named by its Lambda name or its ARN (InvalidArgument otherwise)."""
    found = _LAYER_ARN.fullmatch(value)
    if found is not None:
        if found.group(1) != ACCOUNT_ID:
            raise InvalidArgument(f"the ARN's account must be this platform's, {ACCOUNT_ID}")
        value = found.group(2)
    if not _NAME.fullmatch(value):
        raise InvalidArgument("a layer name is 1-64 letters, digits, '-' or '_' (or its ARN)")
    return native_name(value)


def ref_of_arn(arn: Any) -> str:
    """The `name:version` a layer version's ARN names (a function's `Layers`)."""
    found = _LAYER_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if found is None or found.group(3) is None:
        raise InvalidArgument(f"Layers: {arn!r} is not a layer version's ARN "
                              f"(arn:aws:lambda:<region>:{ACCOUNT_ID}:layer:<name>:<version>)")
    if found.group(1) != ACCOUNT_ID:
        raise InvalidArgument(f"Layers: the ARN's account must be this platform's, {ACCOUNT_ID}")
    return f"{native_name(found.group(2))}:{found.group(3)}"


def layer_arn(request: web.Request, name: str, version: int | str | None = None) -> str:
    return f"arn:aws:lambda:{region(request)}:{ACCOUNT_ID}:layer:{name}" + (f":{version}" if version else "")


def function_layers(request: web.Request, refs: tuple[str, ...]) -> list[dict]:
    """A function's `Layers` as Lambda shows them (their sizes: GetLayerVersion's)."""
    return [{"Arn": layer_arn(request, *ref.rpartition(":")[::2])} for ref in refs]


def layer_version(request: web.Request, layer: LayerVersion) -> dict:
    """Lambda's GetLayerVersionResponse (also a list's LayerVersionsListItem, which has fewer fields)."""
    digest = base64.b64encode(bytes.fromhex(layer.code_sha256)).decode()
    return {"Content": {"Location": "", "CodeSha256": digest, "CodeSize": layer.code_size},
            "LayerArn": layer_arn(request, layer.name),
            "LayerVersionArn": layer_arn(request, layer.name, layer.version),
            "Description": layer.description, "CreatedDate": lambda_time(layer.created_at), "Version": layer.version,
            "CompatibleRuntimes": list(layer.compatible_runtimes), "CompatibleArchitectures": ["x86_64"],
            "LicenseInfo": ""}


def _publish_body(body: dict) -> dict:
    unknown = sorted(set(body) - {"Description", "Content", "CompatibleRuntimes", "CompatibleArchitectures",
                                  "LicenseInfo"})
    if unknown:
        raise InvalidArgument(f"PublishLayerVersion does not take {', '.join(unknown)} here")
    content = body.get("Content")
    if not isinstance(content, dict) or set(content) - {"ZipFile"} or not isinstance(content.get("ZipFile"), str):
        raise InvalidArgument("Content must hold ZipFile (layers from S3 are not supported here)")
    try:  # (botocore sends the zip base64-encoded in the JSON body; the platform's API takes base64 too)
        base64.b64decode(content["ZipFile"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("Content.ZipFile is not valid base64") from None
    if body.get("CompatibleArchitectures") not in (None, [], ["x86_64"]):
        raise InvalidArgument("CompatibleArchitectures must be [x86_64] here")
    out: dict = {"code": {"zipFile": content["ZipFile"]}, "description": body.get("Description") or ""}
    runtimes = body.get("CompatibleRuntimes")
    if runtimes:
        listed = runtimes if isinstance(runtimes, list) else [None]
        mapped = [nearest(r) if isinstance(r, str) else None for r in listed]
        if None in mapped:
            raise InvalidArgument("CompatibleRuntimes must be Python runtimes, python3.9 to python3.13")
        out["compatibleRuntimes"] = list(dict.fromkeys(mapped))
    return out


async def publish_layer_version(request: web.Request) -> web.Response:
    shown = request.match_info["layer"]
    made = await request.config_dict[LAYERS].publish(_platform_name(shown), _publish_body(json_body(request)),
                                                     display_name=shown)
    return web.json_response(layer_version(request, made), status=201)


async def get_layer_version(request: web.Request) -> web.Response:
    found = await request.config_dict[LAYERS].get(_platform_name(request.match_info["layer"]),
                                                   request.match_info["version"])
    return web.json_response(layer_version(request, found))


async def delete_layer_version(request: web.Request) -> web.Response:
    await request.config_dict[LAYERS].delete(_platform_name(request.match_info["layer"]),
                                             request.match_info["version"])
    return web.Response(status=204)


def _compatible(request: web.Request, layer: LayerVersion) -> bool:
    wanted = request.query.get("CompatibleRuntime")
    return wanted is None or nearest(wanted) in layer.compatible_runtimes


async def list_layers(request: web.Request) -> web.Response:
    """GET /layers: each layer with its newest version (fitting CompatibleRuntime); `?find=LayerVersion&Arn=`:
    GetLayerVersionByArn."""
    if request.query.get("find") == "LayerVersion":
        name, _, version = ref_of_arn(request.query.get("Arn", "")).rpartition(":")
        return web.json_response(layer_version(request, await request.config_dict[LAYERS].get(name, version)))
    by_name = {v.name: v for v in await request.config_dict[LAYERS].newest() if _compatible(request, v)}
    chosen, marker = page_after(list(by_name), request.query.get("Marker", ""), max_items(request))
    body: dict = {"Layers": [{"LayerName": by_name[n].shown_name, "LayerArn": layer_arn(request, n),
                              "LatestMatchingVersion": layer_version(request, by_name[n])} for n in chosen]}
    if marker is not None:
        body["NextMarker"] = marker
    return web.json_response(body)


async def list_layer_versions(request: web.Request) -> web.Response:
    marker, limit = request.query.get("Marker", ""), max_items(request)
    try:
        versions = await request.config_dict[LAYERS].versions(_platform_name(request.match_info["layer"]))
    except LayerNotFound:
        versions = []
    if marker and not (marker.isascii() and marker.isdigit() and len(marker) <= 10):
        raise InvalidArgument("Marker is not one this API gave")
    chosen = [v for v in versions if _compatible(request, v) and (not marker or v.version < int(marker))]
    body: dict = {"LayerVersions": [layer_version(request, v) for v in chosen[:limit]]}
    if len(chosen) > limit:
        body["NextMarker"] = str(chosen[limit - 1].version)
    return web.json_response(body)
