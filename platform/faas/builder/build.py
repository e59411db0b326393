"""Per-function image builds: checks, cache by digest, a bounded number at once, the log kept."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from pathlib import Path

from .. import defaults
from ..config import Settings
from ..docker_host import LABEL_FUNCTION, LABEL_PLATFORM, LABEL_PYTHON_CACHE_TAG, LABEL_ROLE, DockerHost
from ..errors import BuildFailed, ServiceUnavailable
from ..labels import LABEL_LAYER, ROLE_LAYER_STAGE
from ..models import BuildInfo, FunctionSpec, tail
from ..runtimes import CUSTOM_CONTAINER, DEFAULT, image_runtimes, python_runtime
from .context import LAYER_BUILDER_VERSION, function_tag, lambda_image_context
from .images import ensure_runtime_image, proxy_buildargs
from .prepare import PreparedCode, prepare_in_child

log = logging.getLogger(__name__)

MISSING_RETRY_S = 30.0
"""Seconds before a runtime whose image could not be made (its base missing) is tried again."""

CACHE_RACE_TRIES = 3
"""Builds of one image when the engine's build cache hands out a layer that is removed before the build uses it
(`docker image rm` or prune from outside this platform's gate); the next build finds the cache as it is now."""


def _lost_cached_layer(error: str | None) -> bool:
    """The classic builder's error for a cached layer gone meanwhile: `unable to find image "sha256:..."`."""
    return error is not None and 'unable to find image "sha256:' in error


class Gate:
    """Many holders of `shared()` at once, or one of `exclusive()`; a waiting exclusive holder goes before
    shared holders that come after it (removals are rare and short: builds never starve them)."""

    def __init__(self):
        self._cond = asyncio.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def shared(self):
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive and not self._waiting)
            self._shared += 1
        try:
            yield
        finally:
            async with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self):
        async with self._cond:
            self._waiting += 1
            try:
                await self._cond.wait_for(lambda: not self._exclusive and not self._shared)
            finally:
                self._waiting -= 1
                self._cond.notify_all()  # (shared holders held back by this waiter, should it be cancelled)
            self._exclusive = True
        try:
            yield
        finally:
            async with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class Builder:
    def __init__(self, settings: Settings, host: DockerHost):
        self.settings = settings
        self.host = host
        self._slots = asyncio.Semaphore(settings.build_concurrency)
        self._runtime_images: dict[str, str] = {}
        """By Python runtime (faas.runtimes): its image's tag, once made or found."""
        self._cache_tags: dict[str, str | None] = {}
        """By Python runtime: its image's Python (its LABEL_PYTHON_CACHE_TAG): a function's byte code is compiled
        for it."""
        self._runtime_lock = asyncio.Lock()
        self._missing: dict[str, tuple[float, ServiceUnavailable]] = {}
        """By Python runtime whose image could not be made: when, and why (asked again after MISSING_RETRY_S, not
        at every call: a base image's pull may take seconds to fail)."""
        self._gate = Gate()

    async def runtime_image(self, runtime: str = DEFAULT) -> str:
        """The image of `runtime` (of the Python runtime a custom runtime runs on), built if need be."""
        python = python_runtime(runtime)
        async with self._runtime_lock:
            image = self._runtime_images.get(python.name)
            if image is None or not await self.host.image_id(image):
                failed = self._missing.get(python.name)
                if failed is not None and time.monotonic() - failed[0] < MISSING_RETRY_S:
                    raise failed[1]
                try:
                    image = await ensure_runtime_image(self.host, self.settings, runtime=python)
                except ServiceUnavailable as exc:
                    self._missing[python.name] = (time.monotonic(), exc)
                    raise
                self._missing.pop(python.name, None)
                self._runtime_images[python.name] = image
                self._cache_tags[python.name] = (await self.host.image_labels(image)).get(LABEL_PYTHON_CACHE_TAG)
            return image

    async def runtime_images(self) -> dict[str, str]:
        """By Python runtime, its image: those that can be made here (the default's must; another's base may be
        missing, as when scripts/setup has not built it: its functions are refused until it is)."""
        images = {}
        for runtime in image_runtimes():
            try:
                images[runtime.name] = await self.runtime_image(runtime.name)
            except ServiceUnavailable as exc:
                if runtime.name == DEFAULT:
                    raise
                log.warning("Runtime %s has no image here: %s", runtime.name, exc.message)
        return images

    async def python_runtime(self, runtime: str = DEFAULT) -> tuple[str, str | None]:
        """(The image of `runtime`, its Python as `major.minor`, read from its byte-code name `cpython-311`; None
        when the image does not say.)"""
        image = await self.runtime_image(runtime)
        tag = self._cache_tags.get(python_runtime(runtime).name) or ""
        digits = tag.removeprefix("cpython-")
        version = f"{digits[0]}.{digits[1:]}" if tag.startswith("cpython-") and digits.isdigit() else None
        return image, version

    def labels(self, name: str) -> dict[str, str]:
        return {LABEL_PLATFORM: self.settings.platform_id, LABEL_FUNCTION: name, LABEL_ROLE: "function-image"}

    async def prepare(self, spec: FunctionSpec, encoded: object) -> PreparedCode:
        """A code zip (base64) checked and made into the build context of `spec`, in a child process."""
        async with self._slots:
            runtime = await self.runtime_image(spec.runtime)
            return await prepare_in_child(encoded, runtime, self.labels(spec.name), self._ca_bundle(),
                                          self._cache_tags.get(python_runtime(spec.runtime).name),
                                          python=not spec.serves_http)

    async def build(self, spec: FunctionSpec, code: PreparedCode | None) -> BuildInfo:
        """Build (or find) the image of `spec` with `code`. Raises BuildFailed with the log on failure."""
        started = time.time()
        t0 = time.monotonic()
        if spec.runtime == CUSTOM_CONTAINER:
            return await self._custom_image(spec, started, t0)
        assert code is not None
        if code.syntax is not None:
            message, build_log = code.syntax
            raise BuildFailed(message, log=build_log, build=self._info("failed", None, started, t0, build_log))
        runtime = await self.runtime_image(spec.runtime)
        runtime_id = await self.host.image_id(runtime)
        tag = function_tag(spec.name, self.settings.platform_id, code.sha256, runtime_id or runtime)
        if self.settings.registry:  # nodes pull it from there
            tag = f"{self.settings.registry}/{tag}"
        return await self._built(f"Function {spec.name}", code.context, tag, started, t0)

    async def _built(self, what: str, context: bytes | Path, tag: str, started: float,
                     t0: float) -> BuildInfo:
        """Image `tag` built from `context` (found, when it was built before)."""
        if await self.host.image_id(tag):
            log.info("%s: image %s already built", what, tag)
            await self._push(tag, started, t0)
            return self._info("cached", tag, started, t0, "")
        async with self._slots, self._gate.shared():
            log.info("%s: building %s", what, tag)
            for attempt in range(1, CACHE_RACE_TRIES + 1):
                result = await self.host.build(context, tag, buildargs=proxy_buildargs())
                if result.ok or attempt == CACHE_RACE_TRIES or not _lost_cached_layer(result.error):
                    break
                log.warning("%s: build of %s found a cached layer that was removed meanwhile (%s); "
                            "building again", what, tag, result.error)
        if not result.ok:
            build_log = tail(result.log, defaults.BUILD_LOG_BYTES)
            log.info("%s: build of %s failed: %s", what, tag, result.error)
            raise BuildFailed(f"the image build failed: {result.error}", log=build_log,
                              build=self._info("failed", None, started, t0, build_log))
        await self._push(tag, started, t0)
        info = self._info("succeeded", tag, started, t0, tail(result.log, defaults.BUILD_LOG_BYTES))
        log.info("%s: built %s in %.1fs", what, tag, info.duration_ms / 1000)
        return info

    async def build_layer(self, name: str, encoded: object, runtimes: tuple[str, ...]) -> tuple[PreparedCode, str]:
        """(its files' digest and size, the image) of a layer zip for `runtimes`: checked and made into a context in
        a child process (as a function's code), and built into an image whose /opt holds its files, compiled by
        each Python that may load them. InvalidArgument, PayloadTooLarge or BuildFailed."""
        labels = {LABEL_PLATFORM: self.settings.platform_id, LABEL_LAYER: name, LABEL_ROLE: "layer-image"}
        pythons = sorted({python_runtime(r).name for r in runtimes})
        images = [await self.runtime_image(p) for p in pythons]
        async with self._slots:
            code = await prepare_in_child(encoded, images[0], labels, None, layer_of=images)
        try:
            ids = [await self.host.image_id(i) or i for i in images]
            digest = hashlib.sha256("\0".join([LAYER_BUILDER_VERSION, code.sha256, *ids]).encode()).hexdigest()
            tag = f"faas-layer-{name}:{self.settings.platform_id}-{digest[:16]}"
            if self.settings.registry:
                tag = f"{self.settings.registry}/{tag}"
            t0 = time.monotonic()
            await self._built(f"Layer {name}", code.context, tag, time.time(), t0)
        finally:
            code.discard()
            async with self._gate.exclusive():  # its compile stages: needed no more (the image holds their output)
                await self.host.remove_images(labels | {LABEL_ROLE: ROLE_LAYER_STAGE})
        return code, tag

    async def remove_layer_images(self, name: str, keep: set[str]) -> int:
        """Remove the images of layer `name` but those in `keep` (the versions it still has), while no build runs."""
        async with self._gate.exclusive():
            return await self.host.remove_images({LABEL_PLATFORM: self.settings.platform_id, LABEL_LAYER: name},
                                                 keep=keep)

    async def _push(self, tag: str, started: float, t0: float) -> None:
        """With a registry (FAAS_REGISTRY), the image is pushed there, where nodes pull it; BuildFailed if not."""
        if self.settings.registry and not await self.host.push(tag):
            message = f"the image {tag} could not be pushed to the registry {self.settings.registry}"
            raise BuildFailed(message, log=message + "\n", build=self._info("failed", None, started, t0, message))

    async def _custom_image(self, spec: FunctionSpec, started: float, t0: float) -> BuildInfo:
        assert spec.custom_container is not None, "FunctionSpec refuses the custom-container runtime without one"
        custom = spec.custom_container
        image = custom.image
        if not (await self.host.image_id(image) or await self.host.pull(image)):
            message = f"image {image} is not on this host and cannot be pulled"
            raise BuildFailed(message, log=message + "\n", build=self._info("failed", None, started, t0, message))
        if custom.protocol != "lambda":
            return self._info("cached", image, started, t0, "")
        # A Lambda image: the bridge that serves Lambda's Runtime API to it goes first (a small image on top)
        command = list(custom.command) if custom.command else await self.host.image_command(image)
        if not command:
            message = f"image {image} has no ENTRYPOINT or CMD to run (and customContainer.command names none)"
            raise BuildFailed(message, log=message + "\n", build=self._info("failed", None, started, t0, message))
        context, digest = lambda_image_context(image, await self.host.image_id(image) or image, command,
                                               self.labels(spec.name))
        tag = f"faas-lambda-{spec.name}:{self.settings.platform_id}-{digest[:16]}"
        if self.settings.registry:
            tag = f"{self.settings.registry}/{tag}"
        return await self._built(f"Function {spec.name}", context, tag, started, t0)

    def _ca_bundle(self) -> bytes | None:
        path = self.settings.build_ca_bundle
        try:
            return path.read_bytes() if path else None
        except OSError as exc:
            log.warning("CA bundle %s not readable, builds use the image's own: %s", path, exc)
            return None

    @staticmethod
    def _info(status: str, image: str | None, started: float, t0: float, build_log: str) -> BuildInfo:
        return BuildInfo(status=status, image=image, started_at=started,
                         duration_ms=int((time.monotonic() - t0) * 1000), log=build_log)

    async def remove_images(self, name: str, keep: set[str]) -> int:
        """Remove `name`'s images but those tagged in `keep`, with their untagged parents: while no build of this
        platform runs, since one may be using such a parent from the cache (another platform's builds share no
        layer with this one's: context.py)."""
        async with self._gate.exclusive():
            return await self.host.remove_images(self.labels(name), keep=keep)
