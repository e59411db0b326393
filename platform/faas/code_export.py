"""A function version's code as a zip, read back from its image (the platform keeps no copy of the zip it was
given): the files under /code, without the byte code the platform compiled at deploy time."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

from .cells import files
from .docker_host import DockerHost
from .errors import InvalidArgument
from .models import FunctionRecord


async def code_zip(host: DockerHost, record: FunctionRecord) -> bytes:
    """The zip of `record`'s code (InvalidArgument for a custom container, whose code is its image)."""
    if record.spec.custom_container is not None or record.image is None:
        raise InvalidArgument(f"function {record.name} runs a custom container: its code is its image")
    with tempfile.TemporaryDirectory(prefix="faas-code-") as tmp:
        root = Path(tmp)
        (root / "code").mkdir()
        await host.copy_out(record.image, {"code": "/code"}, root, files.unpack)
        return _zip(root / "code")


def _zip(top: Path) -> bytes:
    out = io.BytesIO()
    # (the build gives files a fixed mtime before 1980, which a zip cannot hold: such times become 1980)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
        for folder, dirs, names in os.walk(top, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not (Path(folder) / d).is_symlink())
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_symlink() or not path.is_file():
                    continue
                archive.write(path, path.relative_to(top).as_posix())
    return out.getvalue()
