"""Cells, the pure parts: how many to keep ready, which functions may use one, and the safe unpacking of a
function image's files on the host (the image is built from user input and is not trusted)."""

import io
import os
import tarfile
from dataclasses import replace

import pytest

from faas.cells import files
from faas.cells.demand import target
from faas.cells.pool import CellPool, why_not
from faas.config import Settings
from faas.models import CustomContainer, FunctionRecord, FunctionSpec


@pytest.mark.parametrize("cold_starts,default_class,expected", [
    (0, True, 2),     # the default class keeps the minimum
    (0, False, 0),    # another class with no recent cold start keeps none
    (1, False, 2),    # one cold start: the minimum
    (5, True, 5),     # as many as the recent cold starts
    (50, False, 8),   # at most the maximum
])
def test_target_follows_recent_cold_starts_between_min_and_max(cold_starts, default_class, expected):
    assert target(cold_starts, default_class, minimum=2, maximum=8) == expected


def record(**spec) -> FunctionRecord:
    base = FunctionSpec.from_api({"name": "f", "handler": "index.handler"})
    return FunctionRecord(spec=replace(base, **spec), state="active", revision=1, code_sha256=None, image="img",
                          created_at=0, updated_at=0, function_id="id")


def test_which_functions_may_take_a_cell():
    assert why_not(record()) is None
    assert why_not(record(environment={"GREETING": "x", "PY": "y"})) is None
    assert "interpreter" in why_not(record(environment={"PYTHONPATH": "/x"}))
    assert "interpreter" in why_not(record(environment={"LD_PRELOAD": "/x.so"}))
    custom = record(runtime="custom-container", custom_container=CustomContainer(image="x:1"))
    assert "its own server" in why_not(custom)
    assert "its own server" in why_not(record(runtime="custom.debian12"))


def test_forged_slot_and_code_names_in_a_state_file_are_refused(tmp_path):
    pool = CellPool(Settings(cells_dir=tmp_path), host=None, client=None, memory_free=lambda: 0)
    slots = pool.files
    assert slots.slot_of({"slot": "faas-cell-128m-abc"}) == slots.slots / "faas-cell-128m-abc"
    for forged in ("../../etc", "faas-cell-../../x", "/etc", "other", 7, None, ["faas-cell-1"]):
        assert slots.slot_of({"slot": forged}) is None
    assert slots.slot_of(None) is None
    pool.code.root.mkdir(parents=True)
    (pool.code.root / "abc").mkdir()
    assert slots.code_of({"code": "abc"}) == pool.code.root / "abc"
    for forged in ("../slots", "..", ".", "", "/etc", "a/b", ".tmp", 3, None, "missing"):
        assert slots.code_of({"code": forged}) is None


# -- unpacking
def tar_of(*members) -> tarfile.TarFile:
    """A tar like `docker cp` makes of /code: (name, kind, data or link target, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload, mode in members:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 1234567
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                tar.addfile(info)
            elif kind == "dev":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
    buf.seek(0)
    return tarfile.open(fileobj=buf, mode="r:")


def test_unpack_keeps_files_dirs_links_and_mtimes_with_safe_modes(tmp_path):
    dest = tmp_path / "code"
    dest.mkdir()
    archive = tar_of(("code", "dir", None, 0o777), ("code/index.py", "file", b"x = 1\n", 0o4777),
                     ("code/pkg", "dir", None, 0o700), ("code/pkg/data.bin", "file", b"\0" * 10, 0o600),
                     ("code/link", "sym", "/etc/passwd", 0o777), ("code/same", "hard", "code/index.py", 0o644),
                     ("code/null", "dev", None, 0o666))
    assert files.unpack(archive, "code", dest) == 16
    assert (dest / "index.py").read_bytes() == b"x = 1\n"
    assert os.stat(dest / "index.py").st_mode & 0o7777 == 0o755  # no setuid, no world write
    assert os.stat(dest / "pkg/data.bin").st_mode & 0o7777 == 0o644
    assert os.stat(dest / "pkg").st_mode & 0o7777 == 0o755
    assert os.stat(dest / "index.py").st_mtime == 1234567  # byte-code is checked against it
    assert os.readlink(dest / "link") == "/etc/passwd"  # a link, as the image has it: never followed here
    assert (dest / "same").read_bytes() == b"x = 1\n" and not (dest / "null").exists()


@pytest.mark.parametrize("members", [
    [("code/../../evil", "file", b"x", 0o644)],
    [("/etc/evil", "file", b"x", 0o644)],
    [("elsewhere/x", "file", b"x", 0o644)],
    # a file through a link the archive made: it would land outside the tree
    [("code/out", "sym", "/tmp", 0o777), ("code/out/evil", "file", b"x", 0o644)],
    [("code/nodir/x", "file", b"x", 0o644)],
    [("code/h", "hard", "/etc/passwd", 0o644)],
    [("code/h", "hard", "code/missing", 0o644)],
])
def test_unpack_refuses_what_would_leave_the_tree(tmp_path, members):
    dest = tmp_path / "code"
    dest.mkdir()
    with pytest.raises((files.UnsafeArchive, OSError)):
        files.unpack(tar_of(*members), "code", dest)
    assert not (tmp_path / "evil").exists() and not os.path.exists("/tmp/evil")


def test_link_tree_links_files_and_copies_links_without_following(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "pkg").mkdir(parents=True)
    (src / "index.py").write_text("x")
    (src / "pkg" / "m.py").write_text("y")
    os.symlink("/etc", src / "etc")
    dst.mkdir()
    assert files.link_tree(src, dst) == 4
    assert os.stat(dst / "index.py").st_ino == os.stat(src / "index.py").st_ino
    assert (dst / "pkg" / "m.py").read_text() == "y" and os.readlink(dst / "etc") == "/etc"


def test_prune_keeps_files_unpacked_moments_ago_that_the_pool_does_not_know_yet(tmp_path, monkeypatch):
    """A new version's files are unpacked before the pool hears of it: a health pass in between (a fresh-clone
    CI run saw one) must not remove them, or its first cold start misses its cell."""
    from faas.cells import code as code_mod

    clock = [1000.0]
    monkeypatch.setattr(code_mod.time, "monotonic", lambda: clock[0])
    store = code_mod.CodeStore(tmp_path, host=None)
    for image in ("old", "new", "used"):
        (tmp_path / image).mkdir()
        store._ready[image] = tmp_path / image
    store._unpacked_at["new"] = clock[0] - 1
    store._unpacked_at["old"] = clock[0] - code_mod.FRESH_S - 1
    store.prune(keep_images={"used"}, in_use=set())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "used"]
    assert store.ready("new") == tmp_path / "new" and store.ready("old") is None
    clock[0] += code_mod.FRESH_S  # no longer new, and still unknown to the pool: removed
    store.prune(keep_images={"used"}, in_use=set())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
