"""Build contexts as tarballs. Pure: no Docker calls."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from ..labels import LABEL_PLATFORM, LABEL_ROLE, ROLE_LAYER_STAGE
from .archive import CodePackage

BUILDER_VERSION = "4"
"""Bumped when the function Dockerfile changes, so that every function is rebuilt on its next deploy."""

LAYER_BUILDER_VERSION = "1"
"""Bumped when a layer's Dockerfile changes (layer_dockerfile), so that a layer published again is built again."""

USER = "10001:10001"


def _add(tar: tarfile.TarFile, path: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0  # reproducible: the same files make the same context
    tar.addfile(info, io.BytesIO(data))


CA_BUNDLE = "faas-build-ca.crt"
"""Name in the build context of the CA bundle pip trusts (the host's, for networks that intercept TLS)."""


def function_dockerfile(runtime_image: str, with_requirements: bool, labels: dict[str, str],
                        with_ca_bundle: bool = False, precompiled: bool = False) -> str:
    """`precompiled`: the context holds the code's byte code already (builder.prepare), so no step compiles it."""
    lines = [f"FROM {runtime_image}"]
    if LABEL_PLATFORM in labels:
        # First: every layer after it is this platform's own, so the build cache never hands one platform's
        # intermediate layers to another's build, and one platform's image clean-up (which prunes its images'
        # untagged parents) never removes a layer another platform's build is using.
        lines.append(f'LABEL {LABEL_PLATFORM}="{labels[LABEL_PLATFORM]}"')
    runs = []
    if with_requirements:
        cert = ""
        if with_ca_bundle:
            runs.append(f"COPY {CA_BUNDLE} /tmp/{CA_BUNDLE}")
            cert = f"--cert /tmp/{CA_BUNDLE} "
        runs += [
            "COPY requirements.txt /tmp/requirements.txt",
            "RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location "
            f"--progress-bar off {cert}--target /var/fc/deps -r /tmp/requirements.txt "
            f"&& rm -f /tmp/requirements.txt /tmp/{CA_BUNDLE} "
            "&& (python3 -m compileall -q /var/fc/deps > /dev/null || true)",
        ]
    runs.append("COPY code/ /code/")
    if not precompiled:
        # Byte-code compiled at build time: faster cold starts on a read-only root filesystem, and a
        # syntax error anywhere in the code fails the build.
        runs.append("RUN python3 -m compileall -q /code")
    if any(step.startswith("RUN ") for step in runs):  # (a step that runs a container costs ~0.6 s of CPU)
        lines += ["USER root", *runs, f"USER {USER}"]
    else:  # the runtime image's user, USER
        lines += runs
    # One LABEL line: the builder makes a layer per instruction, and labels passed to it each cost one.
    lines.append("LABEL " + " ".join(f'{k}="{v}"' for k, v in sorted(labels.items())))
    return "\n".join(lines) + "\n"


def write_context(tar: tarfile.TarFile, runtime_image: str, labels: dict[str, str], requirements: bytes | None,
                  ca_bundle: bytes | None, files, precompiled: bool = False) -> None:
    """The tar context of a function image: Dockerfile, code/, and requirements.txt (with the CA bundle pip
    should trust, if any) when the code has one. `files`: (path, size, executable, readable file), in order;
    `precompiled`: they include the byte code of every .py file."""
    ca = ca_bundle if requirements is not None else None  # for pip, which runs only with requirements
    dockerfile = function_dockerfile(runtime_image, requirements is not None, labels, ca is not None, precompiled)
    _add(tar, "Dockerfile", dockerfile.encode())
    if requirements is not None:
        _add(tar, "requirements.txt", requirements)
    if ca is not None:
        _add(tar, CA_BUNDLE, ca)
    for path, size, executable, fileobj in files:
        info = tarfile.TarInfo(f"code/{path}")
        info.size, info.mode, info.mtime = size, 0o755 if executable else 0o644, 0
        tar.addfile(info, fileobj)


def layer_dockerfile(python_images: list[str], labels: dict[str, str]) -> str:
    """A layer's image: its files under /opt, with the byte code of its .py files compiled by each Python that may
    load them (each runtime image compiles them in a stage of its own; the byte-code names differ, so the stages'
    files merge), in an image of nothing else (FROM scratch: it is unpacked, never run). The byte code is
    `unchecked-hash`: a layer never changes, so its interpreter need not look at the sources' times or hashes."""
    lines = []
    stage = " ".join(f'{k}="{v}"' for k, v in sorted((labels | {LABEL_ROLE: ROLE_LAYER_STAGE}).items()))
    for i, image in enumerate(python_images):  # (each stage's images labelled: removed once the layer is built)
        lines += [f"FROM {image} AS compile{i}", f"LABEL {stage}", "USER root", "COPY layer/ /opt/",
                  "RUN python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt > /dev/null || true"]
    lines.append("FROM scratch")
    if LABEL_PLATFORM in labels:  # (first, as in function_dockerfile: no layer shared with another platform)
        lines.append(f'LABEL {LABEL_PLATFORM}="{labels[LABEL_PLATFORM]}"')
    lines += [f"COPY --from=compile{i} /opt/ /opt/" for i in range(len(python_images))]
    lines.append("LABEL " + " ".join(f'{k}="{v}"' for k, v in sorted(labels.items())))
    return "\n".join(lines) + "\n"


def write_layer_context(tar: tarfile.TarFile, python_images: list[str], labels: dict[str, str], files) -> None:
    """The tar context of a layer's image: Dockerfile and layer/ (`files` as write_context takes them)."""
    _add(tar, "Dockerfile", layer_dockerfile(python_images, labels).encode())
    for path, size, executable, fileobj in files:
        info = tarfile.TarInfo(f"layer/{path}")
        info.size, info.mode, info.mtime = size, 0o755 if executable else 0o644, 0
        tar.addfile(info, fileobj)


def function_context(code: CodePackage, runtime_image: str, labels: dict[str, str],
                     ca_bundle: bytes | None = None) -> bytes:
    """The tar context of a function image from code in memory (builder.prepare streams one to disk)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        write_context(tar, runtime_image, labels, code.get("requirements.txt"), ca_bundle,
                      ((f.path, len(f.data), f.executable, io.BytesIO(f.data))
                       for f in sorted(code.files, key=lambda f: f.path)))
    return buf.getvalue()


def function_tag(name: str, platform_id: str, code_sha256: str, runtime_image_id: str) -> str:
    """Image tag of a function: it carries a digest of the code and every build input."""
    digest = hashlib.sha256(f"{BUILDER_VERSION}\0{runtime_image_id}\0{code_sha256}".encode()).hexdigest()
    return f"faas-fn-{name}:{platform_id}-{digest[:16]}"


BRIDGE = Path(__file__).with_name("lambda_bridge.py")
BRIDGE_PATH = "/opt/faas/lambda_bridge.py"
_BRIDGE_START = 'exec "$(command -v python3 || command -v python)" ' + BRIDGE_PATH + ' "$@"'
"""The image's own Python runs the bridge (a Lambda image with Python's runtime interface client has one)."""


def lambda_image_context(image: str, image_id: str, command: list[str], labels: dict[str, str]) -> tuple[bytes, str]:
    """(tar context, digest of every input) of a Lambda image as the platform runs it: `image` with the bridge
    (faas.builder.lambda_bridge) first, which starts `command` (the image's ENTRYPOINT and CMD) behind Lambda's
    Runtime API."""
    bridge = BRIDGE.read_bytes()
    lines = [f"FROM {image}"]
    if LABEL_PLATFORM in labels:  # (first, as in function_dockerfile: no layer shared with another platform)
        lines.append(f'LABEL {LABEL_PLATFORM}="{labels[LABEL_PLATFORM]}"')
    lines += [f"COPY lambda_bridge.py {BRIDGE_PATH}",
              "ENTRYPOINT " + json.dumps(["/bin/sh", "-c", _BRIDGE_START, "faas-lambda-bridge"]),
              "CMD " + json.dumps(command),
              "LABEL " + " ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))]
    dockerfile = ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, "Dockerfile", dockerfile)
        _add(tar, "lambda_bridge.py", bridge)
    digest = hashlib.sha256(b"\0".join([image_id.encode(), dockerfile, bridge])).hexdigest()
    return buf.getvalue(), digest


def directory_context(directory: Path) -> tuple[bytes, str]:
    """(tar context, sha256 of its content) of a directory, __pycache__ left out."""
    return tree_context({"": directory})


def tree_context(sources: dict[str, Path], extra: dict[str, bytes] | None = None) -> tuple[bytes, str]:
    """(tar context, sha256 of its content): each file or directory of `sources` under its name in the context
    ("" for the top), then the `extra` files given by content; __pycache__ left out."""
    entries: list[tuple[str, bytes, int]] = []
    for prefix, source in sources.items():
        files = [source] if source.is_file() else sorted(
            p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            rel = prefix if path == source else "/".join(filter(None, [prefix, path.relative_to(source).as_posix()]))
            entries.append((rel, path.read_bytes(), 0o755 if path.stat().st_mode & 0o111 else 0o644))
    entries += [(name, data, 0o644) for name, data in (extra or {}).items()]
    digest = hashlib.sha256()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel, data, mode in entries:
            digest.update(f"{rel}\0{len(data)}\0".encode())
            digest.update(data)
            _add(tar, rel, data, mode)
    return buf.getvalue(), digest.hexdigest()
