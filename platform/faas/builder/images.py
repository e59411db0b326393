"""The runtime image every Python function is built on, and the base image under it.

The base is `python:3.11-slim` where it is present or can be pulled; where no registry answers, the
script images/base/build.sh makes an equivalent one locally with debootstrap.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys

from ..config import Settings
from ..docker_host import LABEL_ROLE, DockerHost
from ..errors import ServiceUnavailable
from .context import directory_context

log = logging.getLogger(__name__)

REGISTRY_BASE = "python:3.11-slim"
"""The base an operator with a registry would use."""

LOCAL_BASE = "faas-base:python3.11-bookworm"
"""The base built locally by images/base/build.sh when no registry can be reached."""

RUNTIME_REPO = "faas-runtime-python"


async def resolve_base(host: DockerHost, settings: Settings, build: bool) -> str:
    """The base image to use; with `build`, make the local one when nothing else is to be had."""
    if settings.base_image:
        if await host.image_id(settings.base_image) or await host.pull(settings.base_image):
            return settings.base_image
        raise ServiceUnavailable(
            f"base image {settings.base_image} (FAAS_BASE_IMAGE) is not present and cannot be pulled")
    for candidate in (REGISTRY_BASE, LOCAL_BASE):
        if await host.image_id(candidate):
            return candidate
    if await host.pull(REGISTRY_BASE):
        return REGISTRY_BASE
    if not build:
        raise ServiceUnavailable(f"no base image: neither {REGISTRY_BASE} nor {LOCAL_BASE} exists; run scripts/setup")
    script = settings.images_dir / "base" / "build.sh"
    log.info("No registry: building %s locally with %s", LOCAL_BASE, script)
    proc = await asyncio.create_subprocess_exec("bash", str(script), LOCAL_BASE)
    if await proc.wait() != 0:
        raise ServiceUnavailable(f"{script} failed")
    return LOCAL_BASE


async def ensure_runtime_image(host: DockerHost, settings: Settings, build_base: bool = False) -> str:
    """The tag of the runtime image, built when its inputs (files, base image) changed."""
    base = await resolve_base(host, settings, build_base)
    base_id = await host.image_id(base)
    context, files_digest = directory_context(settings.images_dir / "runtime-python")
    digest = hashlib.sha256(f"{files_digest}\0{base_id}".encode()).hexdigest()[:16]
    tag = f"{RUNTIME_REPO}:{digest}"
    if await host.image_id(tag):
        return tag
    log.info("Building runtime image %s on %s", tag, base)
    result = await host.build(context, tag, labels={LABEL_ROLE: "runtime"}, buildargs={"BASE_IMAGE": base})
    if not result.ok:
        raise ServiceUnavailable(f"building the runtime image failed: {result.error}\n{result.log[-2000:]}")
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faas-images", description="Build the platform's images when missing.")
    parser.add_argument("command", choices=["ensure", "runtime-tag"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[faas] %(message)s")
    settings = Settings.from_env()
    host = DockerHost(settings)
    try:
        tag = asyncio.run(ensure_runtime_image(host, settings, build_base=args.command == "ensure"))
    except ServiceUnavailable as exc:
        print(f"faas-images: {exc.message}", file=sys.stderr)
        return 1
    finally:
        host.close()
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
