"""Publish, list, get and delete layer versions; resolve a function spec's layers to the images its containers
see under /opt."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from redis.exceptions import LockError

from .. import defaults
from ..errors import InvalidArgument, LayerNotFound, LayerVersionLimitExceeded, ResourceInUse, ServiceUnavailable
from ..models import FunctionRecord, FunctionSpec, check_name
from ..runtimes import python_runtime
from .model import LAYER_RUNTIMES, LayerVersion, check_publish, parse_ref
from .store import LayerStore

log = logging.getLogger(__name__)


class LayerService:
    def __init__(self, store: LayerStore, builder, records: Callable[[], Awaitable[list[FunctionRecord]]]):
        """`builder`: faas.builder.build.Builder; `records`: every function's LATEST and published versions (a layer
        version any of them lists cannot be deleted)."""
        self.store = store
        self.builder = builder
        self.records = records

    async def publish(self, name: str, body: object, display_name: str = "") -> LayerVersion:
        """`display_name`: the name another surface (FC's, Lambda's) published it under, `name` derived from it."""
        name = check_name(name)
        encoded, description, runtimes = check_publish(body)
        if runtimes is None:  # every runtime that may have layers and whose image this platform has
            available = await self.builder.runtime_images()
            runtimes = tuple(r for r in LAYER_RUNTIMES if python_runtime(r).name in available)
        code, image = await self.builder.build_layer(name, encoded, runtimes)
        layer = LayerVersion(name=name, version=0, description=description, compatible_runtimes=runtimes,
                             code_sha256=code.sha256, code_size=code.size, image=image, created_at=time.time(),
                             display_name=display_name if display_name != name else "")
        version = await self.store.publish(layer, defaults.VERSIONS_PER_LAYER)
        if version is None:
            raise LayerVersionLimitExceeded(f"layer {name} has {defaults.VERSIONS_PER_LAYER} versions: delete old "
                                            "ones to publish more")
        log.info("Layer %s: version %d published (%d bytes, image %s)", name, version, code.size, image)
        return replace(layer, version=version)

    async def newest(self) -> list[LayerVersion]:
        """The newest version of every layer."""
        newest = []
        for name in await self.store.names():
            versions = await self.store.versions(name)
            if versions:
                newest.append(versions[0])
        return newest

    async def versions(self, name: str) -> list[LayerVersion]:
        versions = await self.store.versions(check_name(name))
        if not versions:
            raise LayerNotFound(f"layer {name} has no versions")
        return versions

    async def get(self, name: str, version: str) -> LayerVersion:
        found = await self.store.get(check_name(name), _version(version))
        if found is None:
            raise LayerNotFound(f"layer {name} has no version {version}")
        return found

    async def delete(self, name: str, version: str) -> None:
        layer = await self.get(name, version)
        async with self._guard():  # no function is saved with this version between the check and the delete
            for record in await self.records():
                if layer.ref in record.spec.layers:
                    which = "LATEST" if record.version_id == defaults.LATEST else f"version {record.version_id}"
                    raise ResourceInUse(f"layer version {layer.ref} is used by function {record.name} ({which}): "
                                        "change or delete that first")
            deleted = await self.store.delete(layer.name, layer.version)
        if deleted:
            keep = {v.image for v in await self.store.versions(layer.name)}
            await self.builder.remove_layer_images(layer.name, keep)
            log.info("Layer %s: version %d deleted", layer.name, layer.version)

    @contextlib.asynccontextmanager
    async def pinned(self, refs: tuple[str, ...]) -> AsyncIterator[None]:
        """Save a record that lists the layer versions `refs` (resolved: name:version) in the body: no version is
        deleted until it is saved; InvalidArgument when one was deleted since it was resolved (a build may
        have run meanwhile)."""
        if not refs:
            yield
            return
        async with self._guard():
            for ref in refs:
                name, number = parse_ref(ref)
                if number is None or await self.store.get(name, number) is None:
                    raise InvalidArgument(f"layers: layer version {ref} was deleted while the function was being "
                                          "saved")
            yield

    @contextlib.asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            async with self.store.guard():
                yield
        except LockError:
            raise ServiceUnavailable("layers are being changed by another call that holds them too long; try "
                                     "again") from None

    async def resolve(self, spec: FunctionSpec) -> tuple[FunctionSpec, tuple[str, ...]]:
        """`spec` with each layer named by its version (a name alone: its newest), and their images, in order;
        InvalidArgument for a layer version that does not exist or is not for the spec's runtime."""
        refs, images = [], []
        for ref in spec.layers:
            name, number = parse_ref(ref)
            if number is None:
                versions = await self.store.versions(name)
                layer = versions[0] if versions else None
            else:
                layer = await self.store.get(name, number)
            if layer is None:
                raise InvalidArgument(f"layers: layer {ref} does not exist (GET /v1/layers lists them)")
            if spec.runtime not in layer.compatible_runtimes:
                raise InvalidArgument(f"layers: layer {layer.ref} is for {', '.join(layer.compatible_runtimes)}, not "
                                      f"{spec.runtime}")
            refs.append(layer.ref)
            images.append(layer.image)
        return replace(spec, layers=tuple(refs)), tuple(images)


def _version(value: str) -> int:
    if not value.isascii() or not value.isdigit() or value.startswith("0") or len(value) > 10:
        raise InvalidArgument(f"a layer version is a number such as 1, not {value!r}")
    return int(value)
