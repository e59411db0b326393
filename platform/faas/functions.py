"""Create, update, delete functions: validation, builds, the registry and the pool kept in step."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import replace
from typing import Sequence, cast

from .builder.archive import check_handlers
from .builder.build import Builder
from .builder.prepare import PreparedCode
from .cache import TtlCache
from .code_export import code_zip
from .custom import CODE_DIR, CustomRuntimeConfig
from .errors import BuildFailed, FunctionAlreadyExists, FunctionNotFound, InvalidArgument
from .layers.service import LayerService
from .logs.reader import LogReader
from .metrics import Metrics
from .models import CUSTOM, BuildInfo, FunctionRecord, FunctionSpec, FunctionState, check_name
from .pool.interface import Pool
from .releases.store import ReleaseStore
from .store import FunctionStore
from .triggers.service import TriggerService

log = logging.getLogger(__name__)


async def parse_code(body: dict, spec: FunctionSpec, required: bool, builder: Builder) -> PreparedCode | None:
    """The code of a create or update body, unpacked to a build context off the control plane (a zip bomb
    costs a child process), checked against the spec's handlers. The caller discards it."""
    code = body.get("code")
    if code is None:
        if required and spec.runtime != CUSTOM:
            raise InvalidArgument("code.zipFile is required for runtime " + spec.runtime)
        return None
    if not isinstance(code, dict) or set(code) - {"zipFile"}:
        raise InvalidArgument("code must be an object with one field, zipFile (a base64 zip)")
    if spec.runtime == CUSTOM:
        raise InvalidArgument("runtime custom-container takes no code: its image holds it")
    prepared = await builder.prepare(spec, code.get("zipFile"))
    try:
        if spec.custom_runtime is not None:
            check_bootstrap(prepared, spec.custom_runtime)
        else:
            check_handlers(prepared.paths, spec.handler, spec.initializer)
    except BaseException:
        prepared.discard()
        raise
    return prepared


def check_bootstrap(code: PreparedCode, config: CustomRuntimeConfig) -> None:
    """A custom runtime's code has the executable its container starts, when that is a file of the code."""
    program = config.argv[0]
    if not program.startswith(CODE_DIR + "/"):
        return  # (the image's own program, such as python3 or /bin/sh: the engine says so if it is missing)
    path = program.removeprefix(CODE_DIR + "/")
    if path not in code.paths:
        where = "customRuntimeConfig.command" if config.command else "a custom runtime without a command"
        raise InvalidArgument(f"{where} starts {program}, which is not a file of the code zip "
                              f"({path} at the top of the zip)")
    if path not in code.executables:
        raise InvalidArgument(f"{path} of the code zip is not executable: a custom runtime starts it, so its zip entry "
                              "must have an executable mode (chmod +x before zipping)")


class FunctionService:
    def __init__(self, store: FunctionStore, builder: Builder, pool: Pool, metrics: Metrics,
                 triggers: TriggerService, releases: ReleaseStore, cache_ttl: float = 1.0,
                 logs: LogReader | None = None):
        self.store = store
        self.builder = builder
        self.pool = pool
        self.metrics = metrics
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._cache: TtlCache[FunctionRecord] = TtlCache(cache_ttl)
        self.logs = logs
        self.triggers = triggers
        """A deleted function's triggers go with it."""
        self.releases = releases
        """A deleted function's versions and aliases go with it, and images of versions are kept while they
        exist."""
        self._cleanups: set[asyncio.Task] = set()
        self.layers: LayerService | None = None
        """Resolves a spec's layers (set once the layer service exists: api.service_ctx)."""

    async def get(self, name: str) -> FunctionRecord:
        record = await self.store.get(check_name(name))
        if record is None:
            raise FunctionNotFound(f"function {name} does not exist")
        return record

    async def get_cached(self, name: str) -> FunctionRecord:
        """The record for an invocation: read from Redis at most once per REGISTRY_CACHE_S per function."""
        return await self._cache.get(name, lambda: self.get(name))

    async def names(self) -> list[str]:
        return await self.store.names()

    async def records(self, names: Sequence[str]) -> list[FunctionRecord]:
        """The records of `names` in one read (none for a name that has no function)."""
        return await self.store.records(names)

    async def list(self) -> list[FunctionRecord]:
        return await self.store.list()

    async def page(self, prefix: str, start: str | None, limit: int) -> tuple[Sequence[FunctionRecord], str | None]:
        """A page of the functions by name (see FunctionStore.page)."""
        return await self.store.page(prefix, start, limit)

    async def _build(self, spec: FunctionSpec, code: PreparedCode | None) -> tuple[BuildInfo, str]:
        """The build's outcome and its image."""
        try:
            info = await self.builder.build(spec, code)
        except BuildFailed:
            self.metrics.build("failed")
            raise
        assert info.image is not None, "a build that does not raise BuildFailed has an image"
        self.metrics.build(info.status)
        return info, info.image

    async def _sandboxed(self, spec: FunctionSpec) -> FunctionSpec:
        """`spec` with the platform's default sandbox when it names none; InvalidArgument when this host's
        engine cannot run its sandbox (a front end's nodes each check their own at container start)."""
        settings = self.builder.settings
        if spec.sandbox is None:
            spec = replace(spec, sandbox=settings.sandbox)
        runtime = spec.docker_runtime
        if runtime is not None and settings.role == "all" and runtime not in await self.builder.host.runtimes():
            raise InvalidArgument(f"sandbox {spec.sandbox} needs the Docker runtime {runtime}, which this platform's "
                                  "engine does not have (scripts/setup registers gVisor's runsc where Debian has it)")
        return spec

    async def _layers(self, spec: FunctionSpec) -> tuple[FunctionSpec, tuple[str, ...]]:
        """`spec` with its layers' versions resolved, and their images."""
        if not spec.layers:
            return spec, ()
        if self.layers is None:
            raise InvalidArgument("layers are not available here")
        return await self.layers.resolve(spec)

    def pinned(self, spec: FunctionSpec) -> contextlib.AbstractAsyncContextManager:
        """Around the save of a record of `spec`: its layer versions are not deleted meanwhile (LayerService.pinned)."""
        if self.layers is None:  # (then the spec has no layers: _layers refused it)
            return contextlib.nullcontext()
        return self.layers.pinned(spec.layers)

    async def create(self, body: object) -> FunctionRecord:
        spec, layer_images = await self._layers(await self._sandboxed(FunctionSpec.from_api(body)))
        if await self.store.get(spec.name) is not None:  # before the zip is unpacked: cheap
            raise FunctionAlreadyExists(f"function {spec.name} already exists")
        code = await parse_code(cast(dict, body), spec, required=True, builder=self.builder)  # from_api: a dict
        try:
            return await self._create(spec, code, layer_images)
        finally:
            if code is not None:
                code.discard()

    async def _create(self, spec: FunctionSpec, code: PreparedCode | None,
                      layer_images: tuple[str, ...]) -> FunctionRecord:
        if not await self.store.reserve(spec.name):
            raise FunctionAlreadyExists(f"function {spec.name} already exists")
        try:
            info, image = await self._build(spec, code)
            now = time.time()
            record = FunctionRecord(spec=spec, state=FunctionState.ACTIVE, revision=1,
                                    code_sha256=code.sha256 if code else None, image=image,
                                    created_at=now, updated_at=now, last_build=info,
                                    function_id=secrets.token_hex(8), layer_images=layer_images)
            await self.pool.unpack(record)  # its files, unpacked for cells now rather than on its first cold start
            try:
                async with self.pinned(spec):
                    await self.store.put(record, build_log=info.log)
            except InvalidArgument:  # a layer version deleted during the build: nothing names its image
                await self.builder.remove_images(spec.name, keep=set())
                raise
        finally:
            await self.store.release(spec.name)
        self._cache.pop(spec.name)
        self.pool.sync_function(record)
        log.info("Function %s: created (image %s)", spec.name, record.image)
        return record

    async def update(self, name: str, body: object) -> FunctionRecord:
        async with self._locks[name]:
            current = await self.get(name)
            spec, layer_images = await self._layers(await self._sandboxed(FunctionSpec.from_api(body,
                                                                                                base=current.spec)))
            needs_code = spec.runtime != current.spec.runtime and spec.runtime != CUSTOM
            code = await parse_code(cast(dict, body), spec, required=needs_code and current.spec.runtime == CUSTOM,
                                    builder=self.builder)
            if code is None and needs_code:  # another runtime, the same code: built again on it
                code = await parse_code({"code": {"zipFile": base64.b64encode(
                    await code_zip(self.builder.host, current)).decode()}}, spec, True, self.builder)
            try:
                return await self._update(name, current, spec, code, layer_images)
            finally:
                if code is not None:
                    code.discard()

    async def _update(self, name: str, current: FunctionRecord, spec: FunctionSpec,
                      code: PreparedCode | None, layer_images: tuple[str, ...]) -> FunctionRecord:
        image, code_sha, info, build_log = current.image, current.code_sha256, current.last_build, None
        if code is not None or spec.custom_container != current.spec.custom_container:
            try:
                info, image = await self._build(spec, code)
            except BuildFailed as exc:
                # The previous version keeps serving; the failed build is kept for the user to read.
                failed = exc.details.get("build")
                if failed is not None:
                    await self.store.put(current.evolve(last_build=failed), build_log=failed.log)
                raise
            code_sha, build_log = code.sha256 if code else None, info.log
        record = current.evolve(spec=spec, revision=current.revision + 1, image=image, code_sha256=code_sha,
                                updated_at=time.time(), last_build=info, layer_images=layer_images)
        await self.pool.unpack(record)
        try:
            async with self.pinned(spec):
                await self.store.put(record, build_log=build_log)
        except InvalidArgument:  # a layer version deleted during the build: the function stays as it was
            if image != current.image:
                self.clean_images(name)
            raise
        self._cache.pop(name)
        self.pool.sync_function(record)
        if image != current.image:
            self.clean_images(name)
        log.info("Function %s: updated to revision %d", name, record.revision)
        return record

    async def delete(self, name: str) -> None:
        async with self._locks[name]:
            await self.get(name)
            await self.store.delete(name)
            self._cache.pop(name)
            await self.triggers.delete_function(name)
            await self.releases.delete_function(name)
            await self.pool.remove_function(name)
            await self.builder.remove_images(name, keep=set())
            if self.logs is not None:
                await self.logs.forget(name)
        self._locks.pop(name, None)
        log.info("Function %s: deleted", name)

    def clean_images(self, name: str) -> None:
        """Remove the images of `name` that neither LATEST nor a published version runs, once the containers
        that use them are gone (in the background)."""

        async def cleanup():
            for _ in range(3600):
                if not self.pool.retiring(name):
                    break
                await asyncio.sleep(1)
            await self.pool.settle()
            async with self._locks[name]:  # not while an update builds an image that nothing names yet
                record = await self.store.get(name)
                if record is None:
                    return
                keep = {record.image} | await self.releases.images(name)
                await self.builder.remove_images(name, keep=keep)

        task = asyncio.create_task(cleanup())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def close(self) -> None:
        for task in self._cleanups:
            task.cancel()
