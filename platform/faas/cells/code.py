"""Function versions' files on the host, for cells: each function image's /code and /var/fc/deps unpacked
once into a directory named by the image's id (content-addressed: the same image is unpacked once, whatever
function or version runs it), owned by root and never writable by a container (cells see it read-only)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from pathlib import Path

from ..docker_host import DockerHost
from ..errors import FaasError
from . import files

log = logging.getLogger(__name__)

PARTS = {"code": "/code", "deps": "/var/fc/deps"}
"""The directories of a function image a cell needs: its code, and its installed requirements."""

FRESH_S = 60.0
"""Seconds newly unpacked files are kept whatever the pool knows: a new version's files are unpacked before
it is stored and the pool hears of it, and a health pass in between must not remove them."""


class CodeStore:
    def __init__(self, root: Path, host: DockerHost):
        self.root = root
        self.host = host
        self._ready: dict[str, Path] = {}
        """By image reference: where its files are."""
        self._refused: set[str] = set()
        self._pending: dict[str, asyncio.Task] = {}
        self._unpacked_at: dict[str, float] = {}
        """By image reference: when its files were unpacked (monotonic), for FRESH_S."""

    def ready(self, image: str) -> Path | None:
        return self._ready.get(image)

    def prepare(self, image: str, base: str) -> None:
        """Unpack `image`'s files in the background, unless done, under way, or refused before; `base`: the
        runtime image the cells that would run it run (a function image built on another, an older runtime's, is
        not unpacked for them)."""
        if image in self._ready or image in self._pending or image in self._refused:
            return
        task = asyncio.create_task(self._unpack(image, base))
        self._pending[image] = task
        task.add_done_callback(lambda _: self._pending.pop(image, None))

    async def ensure(self, image: str, base: str) -> Path | None:
        """`image`'s files, unpacked now if need be; None when cells cannot run it."""
        self.prepare(image, base)
        task = self._pending.get(image)
        if task is not None:
            await asyncio.shield(task)
        return self._ready.get(image)

    async def _unpack(self, image: str, base: str) -> None:
        try:
            image_id = await self.host.image_id(image)
            if image_id is None:
                return
            if not await self.host.built_on(image, base):
                log.info("Cells: image %s is not built on %s; its containers start from it", image, base)
                self._refused.add(image)
                return
            dest = self.root / image_id.split(":")[-1][:40]
            if not dest.is_dir():
                tmp = self.root / f".{dest.name}-{secrets.token_hex(4)}"
                tmp.mkdir(mode=0o755)
                try:
                    for name in PARTS:
                        (tmp / name).mkdir(mode=0o755)
                    size = await self.host.copy_out(image, PARTS, tmp, files.unpack)
                    os.rename(tmp, dest)
                except BaseException:
                    files.clear_tree(tmp)
                    raise
                log.info("Cells: files of %s unpacked (%d bytes)", image, size)
            self._ready[image] = dest
            self._unpacked_at[image] = time.monotonic()
        except (FaasError, OSError, files.UnsafeArchive) as exc:
            log.warning("Cells: files of %s not unpacked, its containers start from the image: %s", image, exc)
            self._refused.add(image)

    def forget(self) -> None:
        """Its directory was lost: every image's files are unpacked again when next needed."""
        self._ready.clear()
        self._refused.clear()
        self._unpacked_at.clear()

    def prune(self, keep_images: set[str], in_use: set[Path]) -> None:
        """Remove unpacked files of images no longer kept (`keep_images`), used by no cell (`in_use`) and not
        unpacked in the last FRESH_S seconds."""
        now = time.monotonic()
        self._unpacked_at = {i: t for i, t in self._unpacked_at.items() if now - t < FRESH_S}
        keep_images = keep_images | set(self._unpacked_at)
        keep_dirs = set(in_use) | {p for img, p in self._ready.items() if img in keep_images}
        for image in [i for i in self._ready if i not in keep_images]:
            del self._ready[image]
        self._refused &= keep_images
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            if path not in keep_dirs and not path.name.startswith("."):
                files.clear_tree(path)
