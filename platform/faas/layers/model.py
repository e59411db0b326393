"""Layers: a zip of files published once as an immutable, numbered version, then listed by functions, whose
containers see its files read-only under /opt (FC's and Lambda's layers). Pure: no Redis, no Docker."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from .. import defaults
from ..errors import InvalidArgument
from ..runtimes import RUNTIMES

_REF_RE = re.compile(defaults.LAYER_REF_PATTERN)

LAYER_RUNTIMES = tuple(name for name, r in RUNTIMES.items() if r.kind != "container")
"""Runtimes whose functions may have layers (a custom container's files are its image's)."""


@dataclass(frozen=True)
class LayerVersion:
    name: str
    version: int
    description: str
    compatible_runtimes: tuple[str, ...]
    code_sha256: str
    """Digest of its files (paths, modes, bytes), as a function's code has."""
    code_size: int
    """Bytes of its files, unzipped."""
    image: str
    """The image that holds its files under /opt (byte code compiled for each compatible Python): how it reaches
    every node, and what each host unpacks once."""
    created_at: float
    display_name: str = ""
    """The name FC's or Lambda's API published it under, when that is not a platform name (`My_Layer`, whose
    platform name is derived from it: faas.compat.names)."""

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_api(self) -> dict:
        return {"layerName": self.name, "version": self.version, "ref": self.ref, "description": self.description,
                "compatibleRuntimes": list(self.compatible_runtimes), "codeSha256": self.code_sha256,
                "codeSize": self.code_size, "image": self.image, "createdAt": self.created_at}

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> "LayerVersion":
        doc = json.loads(raw)
        doc["compatible_runtimes"] = tuple(doc["compatible_runtimes"])
        return cls(**doc)


def parse_ref(value: Any) -> tuple[str, int | None]:
    """(name, version) of a layer reference `name:version`, or `name` (its newest version: None)."""
    found = _REF_RE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise InvalidArgument(f"layers: {value!r} is not a layer version: name:version (such as numpy:3), or a name "
                              "for its newest version")
    return found.group(1), int(found.group(2)) if found.group(2) else None


def check_refs(value: Any, key: str) -> tuple[str, ...]:
    """A spec's `layers`: at most LAYERS_PER_FUNCTION references, each layer once. Their order is kept: a later
    layer's file wins over an earlier one's at the same path."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidArgument(f"{key} must be a list of layer versions (name:version)")
    if len(value) > defaults.LAYERS_PER_FUNCTION:
        raise InvalidArgument(f"{key} lists more than {defaults.LAYERS_PER_FUNCTION} layers")
    names = [parse_ref(v)[0] for v in value]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidArgument(f"{key} lists layer {twice[0]} more than once")
    return tuple(value)


def check_publish(body: Any) -> tuple[object, str, tuple[str, ...] | None]:
    """(the zip, description, compatible runtimes) of a publish body {code: {zipFile}, description,
    compatibleRuntimes}; the runtimes are None when the body names none."""
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object")
    unknown = sorted(set(body) - {"code", "description", "compatibleRuntimes"})
    if unknown:
        raise InvalidArgument(f"unknown field(s) in the layer version: {', '.join(unknown)}")
    code = body.get("code")
    if not isinstance(code, dict) or set(code) != {"zipFile"}:
        raise InvalidArgument("code must be an object with one field, zipFile (a base64 zip of the files under /opt)")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 256:
        raise InvalidArgument("description must be a string of at most 256 characters")
    runtimes = body.get("compatibleRuntimes")
    if runtimes is None:
        return code["zipFile"], description, None
    if not isinstance(runtimes, list) or not runtimes or not all(r in LAYER_RUNTIMES for r in runtimes) \
            or len(set(runtimes)) != len(runtimes):
        raise InvalidArgument(f"compatibleRuntimes must be a non-empty list of distinct runtimes among "
                              f"{', '.join(LAYER_RUNTIMES)}")
    return code["zipFile"], description, tuple(runtimes)
