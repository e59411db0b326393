"""Checks a code zip: its paths, its size, its syntax. Pure: no Docker. `read_zip` reads one into memory;
`builder.prepare` streams one to disk in a child process, with the same checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import marshal
import stat
import zipfile
from dataclasses import dataclass
from importlib.util import MAGIC_NUMBER, source_hash
from types import CodeType

from .. import defaults
from ..errors import BuildFailed, InvalidArgument, PayloadTooLarge


@dataclass(frozen=True)
class CodeFile:
    path: str
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class CodePackage:
    files: tuple[CodeFile, ...]

    @property
    def sha256(self) -> str:
        """Digest of the content (paths, modes, bytes), not of the zip: re-zipping the same files keeps it."""
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            digest.update(digest_header(f.path, f.executable, len(f.data)))
            digest.update(f.data)
        return digest.hexdigest()

    def paths(self) -> set[str]:
        return {f.path for f in self.files}

    def get(self, path: str) -> bytes | None:
        for f in self.files:
            if f.path == path:
                return f.data
        return None

    def has_module(self, module: str) -> bool:
        return has_module(self.paths(), module)


def zip_text(encoded: object) -> str:
    """A base64 zip from the API as the string it must be, its size checked before it is decoded."""
    if not isinstance(encoded, str) or not encoded:
        raise InvalidArgument("code.zipFile must be a base64 string")
    if len(encoded) > (defaults.CODE_ZIP_BYTES * 4) // 3 + 4:
        raise PayloadTooLarge(f"the code zip is larger than {defaults.CODE_ZIP_BYTES // (1024 * 1024)} MB")
    return encoded


def decode_zip(encoded: object) -> bytes:
    """The bytes of a base64 zip from the API, with size and alphabet checked."""
    text = zip_text(encoded)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("code.zipFile is not valid base64") from None
    if len(raw) > defaults.CODE_ZIP_BYTES:
        raise PayloadTooLarge(f"the code zip is larger than {defaults.CODE_ZIP_BYTES // (1024 * 1024)} MB")
    return raw


def _check_entry_name(name: str) -> str:
    if "\\" in name or "\0" in name:
        raise InvalidArgument(f"zip entry {name!r}: backslashes and NUL bytes are not allowed in paths")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidArgument(f"zip entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"zip entry {name!r} leaves the code directory (..)")
    if not parts:
        raise InvalidArgument(f"zip entry {name!r} has an empty path")
    return "/".join(parts)


def open_zip(raw: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidArgument(f"code.zipFile is not a valid zip: {exc}") from None


def entries(archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo, bool]]:
    """(path, entry, executable) of every file of a code zip, sorted by path; refuses absolute paths, '..',
    symlinks, duplicates, too many entries, bombs (by the sizes declared: reading stops at them) and no files."""
    try:
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise InvalidArgument(f"code.zipFile is not a valid zip: {exc}") from None
    if len(infos) > defaults.CODE_ZIP_ENTRIES:
        raise InvalidArgument(f"the code zip has more than {defaults.CODE_ZIP_ENTRIES} entries")
    if sum(info.file_size for info in infos) > defaults.CODE_UNZIPPED_BYTES:
        raise PayloadTooLarge(f"the code unzips to more than {defaults.CODE_UNZIPPED_BYTES // (1024 * 1024)} MB")
    found: dict[str, tuple[str, zipfile.ZipInfo, bool]] = {}
    for info in infos:
        path = _check_entry_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise InvalidArgument(f"zip entry {info.filename!r} is a symbolic link")
        if info.is_dir():
            continue
        if path in found:
            raise InvalidArgument(f"zip entry {path!r} appears twice")
        found[path] = (path, info, bool(mode & 0o111))
    if not found:
        raise InvalidArgument("the code zip holds no files")
    return [found[p] for p in sorted(found)]


READ_ERRORS = (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, OSError, RuntimeError)


def _unreadable(info: zipfile.ZipInfo, exc: Exception) -> InvalidArgument:
    return InvalidArgument(f"zip entry {info.filename!r} cannot be read: {exc}")


def read_zip(raw: bytes) -> CodePackage:
    """The files of a code zip, in memory (faasctl and tests; the control plane uses `prepare`)."""
    archive = open_zip(raw)
    files = []
    for path, info, executable in entries(archive):
        try:
            data = archive.read(info)
        except READ_ERRORS as exc:
            raise _unreadable(info, exc) from None
        files.append(CodeFile(path=path, data=data, executable=executable))
    return CodePackage(files=tuple(files))


def digest_header(path: str, executable: bool, size: int) -> bytes:
    """What the content digest takes of each file before its bytes (files in path order)."""
    return f"{path}\0{int(executable)}\0{size}\0".encode()


def has_module(paths: set[str] | frozenset[str], module: str) -> bool:
    base = module.replace(".", "/")
    return bool({f"{base}.py", f"{base}/__init__.py"} & paths)


def check_handlers(code: "CodePackage | set[str] | frozenset[str]", *handlers: str | None) -> None:
    """Every handler's module is a file of the code (index.handler needs index.py)."""
    paths = code.paths() if isinstance(code, CodePackage) else code
    for handler in handlers:
        if not handler:
            continue
        module = handler.rpartition(".")[0]
        if not has_module(paths, module):
            path = module.replace(".", "/")
            raise InvalidArgument(
                f"handler {handler}: the code has no {path}.py (files must sit at the top of the zip, not in a folder)"
            )


def check_syntax(code: CodePackage) -> None:
    """Compiles every .py file; the first syntax error fails the build with its file, line and text."""
    for f in sorted(code.files, key=lambda f: f.path):
        syntax_error(f.path, f.data)


def syntax_error(path: str, data: bytes) -> None:
    """BuildFailed with the file, line and text when `path` is a .py file that does not compile."""
    if path.endswith(".py"):
        compiled(path, data)


def compiled(path: str, data: bytes) -> CodeType:
    """The code object of the .py file `path`; BuildFailed with the file, line and text when it does not compile."""
    try:
        return compile(data, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        text = (exc.text or "").rstrip()
        pointer = ""
        if text and exc.offset:
            pointer = "\n    " + " " * (exc.offset - 1 - (len(text) - len(text.lstrip()))) + "^"
        message = f"SyntaxError in {path}, line {exc.lineno}: {exc.msg}"
        log = f"{message}\n    {text.strip()}{pointer}\n" if text else message + "\n"
        raise BuildFailed(message, log=log) from None
    except ValueError as exc:  # null bytes in the source
        raise BuildFailed(f"{path} cannot be compiled: {exc}", log=f"{path}: {exc}\n") from None


def pyc_path(path: str, cache_tag: str) -> str:
    """Where Python looks for the byte code of the source file `path` (`a/b.py` -> `a/__pycache__/b.<tag>.pyc`)."""
    folder, slash, name = path.rpartition("/")
    return f"{folder}{slash}__pycache__/{name[:-3]}.{cache_tag}.pyc"


def hash_pyc(data: bytes, code: CodeType) -> bytes:
    """A checked-hash .pyc of source `data` (PEP 552), as `compileall --invalidation-mode checked-hash` writes:
    the interpreter uses it while the source's hash matches, whatever the files' times, and compiles the
    source otherwise (an interpreter of another version looks for a name of its own)."""
    flags = 0b11  # hash-based, checked
    return MAGIC_NUMBER + flags.to_bytes(4, "little") + source_hash(data) + marshal.dumps(code)
