"""A function version's files on the host, as cells get them: unpacked from its image once (safely: the image
holds what the function's build made, and is not trusted), and linked into a cell's directory where mounts
are not available. Pure file work, no Docker."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path, PurePosixPath

DIR_MODE = 0o755
FILE_MODE = 0o644
EXEC_MODE = 0o755


class UnsafeArchive(ValueError):
    """The image's files hold something that must not be unpacked on the host."""


def _member_path(name: str, top: str) -> PurePosixPath | None:
    """Where a member of a `docker cp` archive of /<top> goes, relative to the unpacked tree: None for the
    top directory itself. UnsafeArchive for an absolute path, `..`, or a name outside `top`."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != top:
        raise UnsafeArchive(f"archive member {name!r} is outside {top}/")
    rest = path.parts[1:]
    return PurePosixPath(*rest) if rest else None


def unpack(archive: tarfile.TarFile, top: str, dest: Path) -> int:
    """Unpack `archive` (a `docker cp` tar of the directory /<top>) into `dest`, which must be empty: regular
    files, directories and symbolic links only (kept as links and never followed here: a file goes only into a
    directory this function made), modes reduced to 0644 / 0755, no owner, setuid or device kept, each
    file's mtime kept (Python checks its byte-code against it). Returns the bytes written."""
    made = {dest}
    files: set[Path] = set()
    written = 0
    for member in archive:
        rel = _member_path(member.name, top)
        if rel is None:
            continue
        target = dest / rel
        if target.parent not in made:
            raise UnsafeArchive(f"archive member {member.name!r} is not under a directory of the archive")
        if member.isdir():
            target.mkdir(mode=DIR_MODE)
            made.add(target)
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.isfile():
            source = archive.extractfile(member)
            assert source is not None, "a regular file's member has contents to read"
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         EXEC_MODE if member.mode & 0o111 else FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            written += member.size
            os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
            files.add(target)
        elif member.islnk():  # a hard link to a file unpacked before: a copy of it
            other = _member_path(member.linkname, top)
            if other is None or dest / other not in files:
                raise UnsafeArchive(f"archive member {member.name!r} links to {member.linkname!r}")
            shutil.copy2(dest / other, target, follow_symlinks=False)
            files.add(target)
        # devices, fifos and the like: left out
    for directory in sorted(made, key=lambda p: len(p.parts), reverse=True):
        os.chmod(directory, DIR_MODE)
    return written


def link_tree(source: Path, dest: Path) -> int:
    """Hard-link every file of `source` into the directory `dest` (same file system), directories made, symbolic
    links copied as links, over what is there: an entry of `source` replaces the one of `dest` at its path (a
    directory merges into a directory; so layers merge into one view, a later one winning). Nothing is followed,
    in either tree. Returns the number of entries made."""
    count = 0
    stack = [(source, dest)]
    while stack:
        src, dst = stack.pop()
        with os.scandir(src) as entries:
            for entry in entries:
                target = dst / entry.name
                mode = entry.stat(follow_symlinks=False).st_mode
                try:
                    there = os.lstat(target).st_mode
                except FileNotFoundError:
                    there = None
                if there is not None and not (stat.S_ISDIR(mode) and stat.S_ISDIR(there)):
                    if stat.S_ISDIR(there):
                        shutil.rmtree(target)
                    else:
                        os.unlink(target)
                    there = None
                if stat.S_ISDIR(mode):
                    if there is None:
                        target.mkdir(mode=DIR_MODE)
                    stack.append((Path(entry.path), target))
                elif stat.S_ISLNK(mode):
                    os.symlink(os.readlink(entry.path), target)
                elif stat.S_ISREG(mode):
                    os.link(entry.path, target, follow_symlinks=False)
                count += 1
    return count


def clear_tree(path: Path) -> None:
    """Remove `path` and what it holds, never following a link; gone already is fine."""
    shutil.rmtree(path, ignore_errors=True)
