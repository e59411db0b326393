"""Layers' files on a host, as containers and cells see them at /opt.

Each layer version's image is unpacked once into a directory named by the image's id (content-addressed, owned by
root, never writable by a container: every container sees it read-only). A function's list of layers is one
directory: the layer's own when it lists one, else a *view* made once per list, in which every file is a hard link
to its layer's copy, in the list's order (a later layer's file replaces an earlier one's at the same path). No file
is copied per function, and an image rebuild is never needed when only a function's code changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from pathlib import Path

from .. import defaults
from ..cells import files
from ..docker_host import DockerHost
from ..errors import ContainerStartFailed, FaasError

log = logging.getLogger(__name__)

FRESH_S = 60.0
"""Seconds a newly made directory is kept whatever the pool knows (made before its release is stored)."""


class LayerFiles:
    def __init__(self, root: Path, host: DockerHost):
        self.root = root
        self.host = host
        self._views: dict[tuple[str, ...], Path] = {}
        """By list of layer images: the directory its containers see at /opt."""
        self._pending: dict[tuple[str, ...], asyncio.Task] = {}
        self._made_at: dict[tuple[str, ...], float] = {}

    def prepare(self, images: tuple[str, ...]) -> None:
        """Make the view of `images` in the background, unless made or under way."""
        if not images or images in self._views or images in self._pending:
            return
        task = asyncio.create_task(self._make(images))
        self._pending[images] = task
        task.add_done_callback(lambda _: self._pending.pop(images, None))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # (an error is the caller's of view())

    async def of(self, images: tuple[str, ...]) -> Path | None:
        """The view of `images` (`view`); None for a function without layers."""
        return await self.view(images) if images else None

    async def view(self, images: tuple[str, ...]) -> Path:
        """The directory a container of a function with layers `images` sees at /opt, made now if need be;
        ContainerStartFailed when a layer's files cannot be had."""
        found = self._views.get(images)
        if found is not None and found.is_dir():
            return found
        self._views.pop(images, None)  # (its directory was removed from outside: made again)
        self.prepare(images)
        task = self._pending.get(images)
        if task is not None:
            try:
                await asyncio.shield(task)
            except (FaasError, OSError, files.UnsafeArchive) as exc:
                raise ContainerStartFailed(f"the layers' files cannot be placed: {exc}") from exc
        found = self._views.get(images)
        if found is None:
            raise ContainerStartFailed("the layers' files cannot be placed")
        return found

    async def _make(self, images: tuple[str, ...]) -> None:
        ids = [await self._image_id(image) for image in images]
        if len(images) == 1:
            path = await self._unpacked(images[0], ids[0])
        else:
            path = self.root / "views" / hashlib.sha256("\0".join(ids).encode()).hexdigest()[:40]
            if not path.is_dir():
                layers = [await self._unpacked(image, image_id) for image, image_id in zip(images, ids)]
                tmp = self._temporary(path)
                try:
                    for layer in layers:
                        await asyncio.to_thread(files.link_tree, layer, tmp)
                    os.chmod(tmp, files.DIR_MODE)
                    os.rename(tmp, path)
                except BaseException:
                    files.clear_tree(tmp)
                    raise
        self._views[images] = path
        self._made_at[images] = time.monotonic()

    async def _image_id(self, image: str) -> str:
        image_id = await self.host.image_id(image)
        if image_id is None:
            raise ContainerStartFailed(f"the layer image {image} is not on this host")
        return image_id.split(":")[-1][:40]

    async def _unpacked(self, image: str, image_id: str) -> Path:
        """The /opt of layer image `image`, unpacked once on this host."""
        dest = self.root / "images" / image_id
        if not dest.is_dir():
            tmp = self._temporary(dest)
            try:
                (tmp / "opt").mkdir(mode=files.DIR_MODE)
                size = await self.host.copy_out(image, {"opt": defaults.LAYER_DIR}, tmp, files.unpack)
                os.chmod(tmp, files.DIR_MODE)
                os.rename(tmp, dest)
            except BaseException:
                files.clear_tree(tmp)
                raise
            log.info("Layers: files of %s unpacked (%d bytes)", image, size)
        return dest / "opt"

    def _temporary(self, dest: Path) -> Path:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)  # root's alone on the host (containers see their layers through mounts)
        dest.parent.mkdir(exist_ok=True)
        tmp = dest.parent / f".{dest.name}-{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o700)
        return tmp

    def prune(self, keep: set[tuple[str, ...]]) -> None:
        """Remove the views (and unpacked layers) of lists no release known to the pool has (`keep`: those of the
        pools' releases and of every container's), and not made in the last FRESH_S seconds."""
        now = time.monotonic()
        self._made_at = {k: t for k, t in self._made_at.items() if now - t < FRESH_S}
        keep = keep | set(self._made_at) | set(self._pending)
        self._views = {k: p for k, p in self._views.items() if k in keep}
        used = set(self._views.values())
        if self._pending:
            return  # (a view under way may be linking an unpacked layer no list keeps yet)
        for folder, kept in ((self.root / "views", used), (self.root / "images", {p.parent for p in used})):
            for path in list(folder.iterdir()) if folder.is_dir() else []:
                if path not in kept and not path.name.startswith("."):
                    files.clear_tree(path)
