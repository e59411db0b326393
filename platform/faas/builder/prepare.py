"""A code zip made into a build context by a child process (`python -m faas.builder.prepare`), streamed to
disk: a zip that unpacks to hundreds of MB costs that process CPU and disk (up to CODE_UNZIPPED_BYTES),
never the control plane's memory or its event loop. The checks are archive.py's, as for `read_zip`.

The child reads a line of JSON (where, and for which runtime image) and then the zip in base64 on stdin, and
writes one JSON answer on stdout:
`{"sha256", "paths", "executables", "context", "syntax"}`, or `{"error": code, "message"}` for a zip it refuses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import errors
from ..errors import BuildFailed, FaasError, InvalidArgument
from .archive import (
    READ_ERRORS,
    compiled,
    decode_zip,
    digest_header,
    entries,
    hash_pyc,
    open_zip,
    pyc_path,
    zip_text,
)
from .context import write_context, write_layer_context

REQUIREMENTS_BYTES = 1 << 20
"""Largest requirements.txt accepted."""


@dataclass(frozen=True)
class PreparedCode:
    sha256: str
    """Digest of the content (paths, modes, bytes): the same as CodePackage.sha256 of the same zip."""
    paths: frozenset[str]
    executables: frozenset[str]
    """The paths of files whose mode lets them be run."""
    context: Path
    """The build context, a tar file in a directory of its own."""
    syntax: tuple[str, str] | None = None
    """(message, log) of the first .py file that does not compile."""
    size: int = 0
    """Bytes of its files, unzipped (told for a layer)."""

    def discard(self) -> None:
        shutil.rmtree(self.context.parent, ignore_errors=True)


class _Hashing:
    """A readable file that feeds what is read through it to a digest."""

    def __init__(self, inner, digest):
        self.inner, self.digest = inner, digest

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.digest.update(data)
        return data


def prepare(encoded: object, workdir: Path, runtime_image: str, labels: dict[str, str],
            ca_bundle: bytes | None, cache_tag: str | None = None, python: bool = True) -> dict:
    """The child's work: check the zip, write the context to `workdir`/context.tar, digest the content.
    `cache_tag`: the runtime's Python, when it is this one's (`cpython-311`): the byte code of every .py file goes
    into the context, compiled here, and the image needs no compiling step (a container run) of its own.
    Without `python` (a custom runtime's code: its own server), the files are taken as they are: nothing is
    compiled, and a requirements.txt is a file like another."""
    archive = open_zip(decode_zip(encoded))
    files = entries(archive)
    requirements = None
    for path, info, _ in files if python else ():
        if path == "requirements.txt":
            if info.file_size > REQUIREMENTS_BYTES:
                raise InvalidArgument(f"requirements.txt is larger than {REQUIREMENTS_BYTES} bytes")
            requirements = archive.read(info)
    if cache_tag != sys.implementation.cache_tag or not python:
        cache_tag = None
    paths = {path for path, _, _ in files}
    pyc_of: dict[str, str] = {}
    """Each .py file's byte code in the context (not under a `__pycache__` that is a file of the zip: the image
    keeps the zip's files as they are)."""
    if cache_tag:
        pyc_of = {path: pyc for path in paths if path.endswith(".py")
                  if (pyc := pyc_path(path, cache_tag)).rpartition("/")[0] not in paths}
    replaced = set(pyc_of.values())
    digest = hashlib.sha256()
    syntax = None
    byte_code: list[tuple[str, bytes]] = []

    def streams():
        nonlocal syntax
        for path, info, executable in files:
            digest.update(digest_header(path, executable, info.file_size))
            if path.endswith(".py") and syntax is None and python:
                data = archive.read(info)
                try:
                    code = compiled(path, data)
                except BuildFailed as exc:
                    syntax = (exc.message, exc.details.get("log", ""))
                else:
                    if path in pyc_of:
                        byte_code.append((pyc_of[path], hash_pyc(data, code)))
                digest.update(data)
                yield path, len(data), executable, io.BytesIO(data)
            elif path in replaced:  # the zip's own byte code of a file compiled here: counted, replaced
                digest.update(archive.read(info))
            else:
                yield path, info.file_size, executable, _Hashing(archive.open(info), digest)
        if syntax is None:
            for path, blob in byte_code:
                yield path, len(blob), False, io.BytesIO(blob)

    context = workdir / "context.tar"
    try:
        with tarfile.open(context, "w") as tar:
            write_context(tar, runtime_image, labels, requirements, ca_bundle, streams(),
                          precompiled=cache_tag is not None or not python)
    except READ_ERRORS as exc:
        raise InvalidArgument(f"the code zip cannot be read: {exc}") from None
    return {"sha256": digest.hexdigest(), "paths": sorted(paths), "context": str(context),
            "executables": sorted(path for path, _, executable in files if executable), "syntax": syntax}


def prepare_layer(encoded: object, workdir: Path, python_images: list[str], labels: dict[str, str]) -> dict:
    """The child's work for a layer: check the zip (as a function's), write its image's context to
    `workdir`/context.tar, digest (as a function's code) and size its files."""
    archive = open_zip(decode_zip(encoded))
    files = entries(archive)
    digest = hashlib.sha256()

    def streams():
        for path, info, executable in files:
            digest.update(digest_header(path, executable, info.file_size))
            yield path, info.file_size, executable, _Hashing(archive.open(info), digest)

    context = workdir / "context.tar"
    try:
        with tarfile.open(context, "w") as tar:
            write_layer_context(tar, python_images, labels, streams())
    except READ_ERRORS as exc:
        raise InvalidArgument(f"the code zip cannot be read: {exc}") from None
    return {"sha256": digest.hexdigest(), "size": sum(info.file_size for _, info, _ in files),
            "context": str(context), "paths": [], "executables": [], "syntax": None}


async def prepare_in_child(encoded: object, runtime_image: str, labels: dict[str, str],
                           ca_bundle: bytes | None, cache_tag: str | None = None, python: bool = True,
                           layer_of: list[str] | None = None) -> PreparedCode:
    """Run `prepare` in a child process; InvalidArgument or PayloadTooLarge for a zip it refuses. `cache_tag`: the
    runtime image's Python (LABEL_PYTHON_CACHE_TAG), if it says; `python`: as `prepare`'s. With `layer_of` (the
    Python runtime images that compile it), the zip is a layer's, made into its image's context by
    `prepare_layer`."""
    import asyncio  # (here: the child, which imports this module, has no use for it and starts faster without)

    text = zip_text(encoded)  # refused here as the child would refuse it
    workdir = Path(tempfile.mkdtemp(prefix="faas-build-"))
    header = json.dumps({"workdir": str(workdir), "runtime": runtime_image, "labels": labels,
                         "ca": base64.b64encode(ca_bundle).decode() if ca_bundle else None, "cache_tag": cache_tag,
                         "python": python, "layer_of": layer_of})
    request = header.encode() + b"\n" + text.encode("ascii", "replace")
    try:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "faas.builder.prepare",
                                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(request)
        try:
            answer = json.loads(out)
        except ValueError:
            raise errors.ServiceUnavailable(f"preparing the code failed: {err.decode(errors='replace')[-500:]}") \
                from None
        if "error" in answer:
            raise getattr(errors, answer["error"], InvalidArgument)(answer["message"])
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return PreparedCode(sha256=answer["sha256"], paths=frozenset(answer["paths"]),
                        executables=frozenset(answer["executables"]), context=Path(answer["context"]),
                        syntax=tuple(answer["syntax"]) if answer["syntax"] else None, size=answer.get("size", 0))


def main() -> int:
    header, _, encoded = sys.stdin.buffer.read().partition(b"\n")
    request = json.loads(header)
    try:
        if request.get("layer_of"):
            answer = prepare_layer(encoded.decode("ascii"), Path(request["workdir"]), request["layer_of"],
                                   request["labels"])
        else:
            answer = prepare(encoded.decode("ascii"), Path(request["workdir"]), request["runtime"], request["labels"],
                             base64.b64decode(request["ca"]) if request["ca"] else None, request.get("cache_tag"),
                             request.get("python", True))
    except FaasError as exc:
        answer = {"error": type(exc).__name__, "message": exc.message}
    except READ_ERRORS as exc:
        answer = {"error": "InvalidArgument", "message": f"the code zip cannot be read: {exc}"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
