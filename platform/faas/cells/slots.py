"""Cells' directories on the host: each cell's slot (the directories its /code, /var/fc/deps and /opt are mounted
from), where files are placed into a slot from (a read-only mount moved in through `staging`, or hard links), and
the host's record of which version a specialised cell serves (`state/`, never seen by a container)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .. import defaults
from . import files, mounts
from .code import PARTS

log = logging.getLogger(__name__)

SLOT = {**PARTS, "opt": defaults.LAYER_DIR}
"""The directories of a cell's slot, and where the cell sees them: its version's files (PARTS), and its layers'."""


class SlotFiles:
    def __init__(self, root: Path, code_root: Path):
        self.root = root
        self.slots = root / "slots"
        self.staging = root / "staging"
        self.state = root / "state"
        self.code_root = code_root
        self.placement = "mount"
        """How files reach a cell: `mount` (a read-only mount the running container follows) or `link`."""

    @property
    def _directories(self) -> tuple[Path, ...]:
        return self.slots, self.staging, self.state, self.code_root

    def set_up(self, placement: str) -> None:
        """Make the directories and, unless `placement` is `link`, the mounts a placement by mount needs; fall back
        to links when mounts are not permitted and `placement` allows (RuntimeError when it says `mount`)."""
        for path in self._directories:
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)  # functions' code: root's alone on the host (cells see it through mounts)
        self.placement = placement
        if placement != "link":
            reason = mounts.usable(self.root)
            if reason is None:
                self._mount()
                self.placement = "mount"
            elif placement == "mount":
                raise RuntimeError(f"FAAS_CELLS_PLACEMENT=mount, but {reason}")
            else:
                log.info("Cells: code is placed by hard links: %s", reason)
                self.placement = "link"

    def _mount(self) -> None:
        mounts.bind_self(self.slots, mounts.MS_SHARED)
        mounts.bind_self(self.staging, mounts.MS_PRIVATE)

    def lost(self) -> list[Path]:
        """What was set up and is gone (removed by hand, or unmounted by a process that took them for its own)."""
        lost = [p for p in self._directories if not p.is_dir()]
        if self.placement == "mount":
            lost += [p for p in (self.slots, self.staging) if p.is_dir() and not mounts.is_mount_point(p)]
        return lost

    def set_up_again(self) -> None:
        """OSError when it cannot."""
        for path in self._directories:
            path.mkdir(parents=True, exist_ok=True)
        if self.placement == "mount":
            self._mount()

    def finish(self) -> None:
        """Once no container uses them: the mounts of the directories go."""
        if self.placement == "mount":
            for path in (self.slots, self.staging):
                mounts.unmount_all(path)

    # -- one cell's slot
    def make(self, slot: Path) -> None:
        for name in SLOT:
            (slot / name).mkdir(parents=True, mode=0o755)

    def mounts(self, slot: Path) -> tuple[tuple[str, str], ...]:
        """(host directory, container path) of a cell's mounts."""
        return tuple((str(slot / name), path) for name, path in SLOT.items())

    @property
    def propagation(self) -> str | None:
        return "rslave" if self.placement == "mount" else None

    def place(self, source: Path, target_dir: Path) -> None:
        """`source`'s files shown at `target_dir` in a cell's slot: a read-only mount (through a staging directory)
        or hard links, as the placement is."""
        if not any(source.iterdir()):
            return  # nothing to show (no requirements): the empty directory is what the function expects
        if self.placement == "mount":
            staging = self.staging / f"{target_dir.parent.name}-{target_dir.name}"
            staging.mkdir(exist_ok=True)
            try:
                mounts.place(source, staging, target_dir)
            finally:
                staging.rmdir()
        else:
            files.link_tree(source, target_dir)

    # -- the host's record of a specialised cell
    def _state_file(self, container_id: str) -> Path:
        return self.state / f"{container_id}.json"

    def write_state(self, container_id: str, marker: dict) -> None:
        path = self._state_file(container_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(marker))
        os.replace(tmp, path)

    def state_of(self, container_id: str) -> dict | None:
        """What the host recorded when the cell `container_id` was specialised (None: it never was)."""
        try:
            doc = json.loads(self._state_file(container_id).read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def release(self, container_id: str, slot: Path | None) -> None:
        """A cell's container is gone: its mounts, directory and state go too."""
        if slot is not None and slot.parent == self.slots:
            for name in SLOT:
                if self.placement == "mount":
                    mounts.unmount_all(slot / name)
            files.clear_tree(slot)
        if container_id:
            try:
                self._state_file(container_id).unlink()
            except OSError:
                pass

    def slot_of(self, marker: dict | None) -> Path | None:
        name = (marker or {}).get("slot")
        if not isinstance(name, str) or not name.startswith("faas-cell-") or "/" in name:
            return None
        return self.slots / name

    def code_of(self, marker: dict | None) -> Path | None:
        """The unpacked files a specialised cell runs, from the host's record of it (within the store)."""
        name = (marker or {}).get("code")
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            return None
        path = self.code_root / name
        return path if path.is_dir() else None

    def clear_stale(self, keep: set[str]) -> None:
        """Slots and state files of cells that are gone (a control plane that was killed left them): all but the
        slots named in `keep`."""
        for slot in list(self.slots.iterdir()) if self.slots.is_dir() else []:
            if slot.name not in keep:
                self.release("", slot)
        for path in list(self.state.iterdir()) if self.state.is_dir() else []:
            recorded = self.slot_of(self.state_of(path.stem))
            if recorded is None or recorded.name not in keep:
                path.unlink(missing_ok=True)
