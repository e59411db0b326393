"""A Docker engine's images: builds, tags, pulls and pushes, save and load, copying their files out, removal."""

from __future__ import annotations

import io
import logging
import os
import tarfile
import tempfile
from collections.abc import Callable, Set
from dataclasses import dataclass
from pathlib import Path

from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from ..errors import InvalidArgument, ServiceUnavailable
from ..labels import LABEL_PLATFORM, LABEL_ROLE, ROLE_UNPACK, label_filter
from .engine import Engine

log = logging.getLogger(__name__)

Unpack = Callable[[tarfile.TarFile, str, Path], int]
"""Writes a `docker cp` tar of the directory /<top> into an empty directory; returns the bytes written."""


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    log: str
    error: str | None = None


class ImageHost(Engine):
    """What the platform does with an engine's images."""

    async def image_id(self, ref: str) -> str | None:
        try:
            return (await self._run(self.api.inspect_image, ref))["Id"]
        except (NotFound, ImageNotFound):
            return None

    async def image_command(self, ref: str) -> list[str]:
        """What a container of image `ref` runs when given no command: its ENTRYPOINT, then its CMD."""
        config = (await self._run(self.api.inspect_image, ref))["Config"]
        return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])

    async def image_labels(self, ref: str) -> dict[str, str]:
        """The labels of image `ref` (none when it is not here)."""
        try:
            return (await self._run(self.api.inspect_image, ref))["Config"].get("Labels") or {}
        except (NotFound, ImageNotFound):
            return {}

    async def built_on(self, image: str, base: str) -> bool:
        """`image`'s layers begin with all of `base`'s: it was built FROM it."""
        def check() -> bool:
            mine = self.api.inspect_image(image)["RootFS"].get("Layers") or []
            theirs = self.api.inspect_image(base)["RootFS"].get("Layers") or []
            return bool(theirs) and mine[:len(theirs)] == theirs
        try:
            return await self._run(check)
        except (NotFound, ImageNotFound):
            return False

    async def copy_out(self, image: str, parts: dict[str, str], dest: Path, unpack: Unpack) -> int:
        """Unpack directories of `image` on the host: `parts` maps a name to a directory of the image, unpacked
        into `dest`/name (which must be empty) by `unpack` (the caller's: what is safe to write is its rule, not
        Docker's). Returns the bytes written."""

        def copy() -> int:
            cid = self.api.create_container(image, command=["true"], network_disabled=True,
                                            labels={LABEL_PLATFORM: self.settings.platform_id,
                                                    LABEL_ROLE: ROLE_UNPACK})["Id"]
            written = 0
            try:
                for name, path in parts.items():
                    stream, _ = self.api.get_archive(cid, path)
                    with tempfile.TemporaryFile() as spool:
                        for chunk in stream:
                            spool.write(chunk)
                        spool.seek(0)
                        with tarfile.open(fileobj=spool, mode="r:") as archive:
                            written += unpack(archive, os.path.basename(path), dest / name)
            finally:
                self.api.remove_container(cid, force=True)
            return written

        return await self._run(copy)

    async def tag(self, image: str, repository: str, tag: str) -> None:
        await self._run(self.api.tag, image, repository, tag, force=True)

    async def pull(self, ref: str) -> bool:
        return await self._transfer(self.api.pull, "Pull", ref)

    async def push(self, ref: str) -> bool:
        return await self._transfer(self.api.push, "Push", ref)

    async def _transfer(self, method, what: str, ref: str) -> bool:
        """Pull or push `ref`; the engine reports a failure in its progress stream, not always as an error."""
        repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")

        def run() -> str | None:
            for line in method(repo, tag=tag, stream=True, decode=True):
                if isinstance(line, dict) and line.get("error"):
                    return str(line["error"])
            return None

        try:
            error = await self._run(run)
        except (ServiceUnavailable, APIError, DockerException) as exc:
            error = str(exc)
        if error:
            log.info("%s of %s failed: %s", what, ref, error[:500])
        return error is None

    async def save_image(self, ref: str, out) -> None:
        """Write `docker save` of `ref` to the file `out`."""
        def save() -> None:
            for chunk in self.api.get_image(ref, chunk_size=1 << 20):
                out.write(chunk)
        await self._run(save)

    async def load_image(self, source) -> list[str]:
        """`docker load` of the file `source`; the references it loaded."""
        def load() -> list[str]:
            loaded = []
            for line in self.api.load_image(source):
                if line.get("error"):
                    raise InvalidArgument(f"docker load refused the stream: {line['error'][:300]}")
                stream = line.get("stream", "")
                if stream.startswith("Loaded image"):
                    loaded.append(stream.split(":", 1)[1].strip())
            return loaded
        return await self._run(load)

    async def build(self, context_tar: bytes | Path, tag: str, labels: dict[str, str] | None = None,
                    buildargs: dict[str, str] | None = None,
                    on_line: Callable[[str], None] | None = None) -> BuildResult:
        """Build an image from a tar context (in memory, or a file streamed to the engine); the log is
        streamed line by line to `on_line`, and returned."""

        def build() -> BuildResult:
            context = open(context_tar, "rb") if isinstance(context_tar, Path) else io.BytesIO(context_tar)
            with context:
                stream = self.api.build(
                    fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                    pull=False, decode=True, labels=labels or {}, buildargs=buildargs or {},
                )
                return _read_build(stream, on_line)

        return await self._run(build)

    async def remove_images(self, labels: dict[str, str], keep: Set[str] = frozenset()) -> int:
        """Remove images with all of `labels`, except those tagged in `keep`; returns how many went."""

        def remove() -> int:
            filters = {"label": label_filter(labels)}
            removed = 0
            for image in self.api.images(filters=filters):
                if keep & set(image.get("RepoTags") or ()):
                    continue
                try:
                    self.api.remove_image(image["Id"], force=True, noprune=False)
                    removed += 1
                except NotFound:
                    pass
                except APIError as exc:  # still used by a container that is going away: leave it
                    log.warning("Image %s not removed: %s", image["Id"][:19], exc.explanation or exc)
            return removed

        return await self._run(remove)


def _read_build(stream, on_line: Callable[[str], None] | None) -> BuildResult:
    """The outcome of an image build from the engine's stream of progress messages."""
    lines: list[str] = []
    error = None
    for chunk in stream:
        text = chunk.get("stream") or chunk.get("status") or ""
        if "error" in chunk:
            error = chunk.get("error", "").strip()
            text = f"ERROR: {error}\n"
        if text:
            lines.append(text)
            if on_line is not None:
                on_line(text)
    return BuildResult(ok=error is None, log="".join(lines), error=error)
