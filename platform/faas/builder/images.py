"""The runtime images Python functions are built on (one per Python runtime: faas.runtimes), and the base images
under them.

A runtime's base is `python:<version>-slim` where it is present or can be pulled; where no registry answers, the
script images/base/build.sh makes an equivalent one locally with debootstrap (Debian's own interpreter: 12's is
3.11, 13's is 3.13).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import sys

from ..config import REPO_ROOT, Settings
from ..docker_host import LABEL_ROLE, DockerHost
from ..errors import ServiceUnavailable
from ..runtimes import DEFAULT, RUNTIMES, Runtime, image_runtimes
from .context import directory_context, tree_context

log = logging.getLogger(__name__)

RUNTIME_REPO = "faas-runtime-python"

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")

CONTROL_PLANE_REPO = "faas-control-plane"
REDIS_REPO = "faas-redis"
DEPLOY_TAG = "local"
"""The tag deploy/docker-compose.yml runs; each build also carries a tag of its content digest."""


def proxy_buildargs() -> dict[str, str]:
    """The host's proxy settings, passed to builds (Docker predefines these build arguments)."""
    return {k: os.environ[k] for k in PROXY_VARIABLES if os.environ.get(k)}


async def resolve_base(host: DockerHost, settings: Settings, build: bool, runtime: Runtime = RUNTIMES[DEFAULT]) -> str:
    """The base image of `runtime`; with `build`, make the local one when nothing else is to be had. FAAS_BASE_IMAGE
    names the default runtime's."""
    if settings.base_image and runtime.name == DEFAULT:
        if await host.image_id(settings.base_image) or await host.pull(settings.base_image):
            return settings.base_image
        raise ServiceUnavailable(
            f"base image {settings.base_image} (FAAS_BASE_IMAGE) is not present and cannot be pulled")
    registry_base, local_base = runtime.registry_base, runtime.local_base
    for candidate in (registry_base, local_base):
        if await host.image_id(candidate):
            return candidate
    if await host.pull(registry_base):
        return registry_base
    if not build:
        raise ServiceUnavailable(f"no base image of {runtime.name}: neither {registry_base} nor {local_base} exists; "
                                 "run scripts/setup")
    script = settings.images_dir / "base" / "build.sh"
    log.info("No registry: building %s locally with %s", local_base, script)
    proc = await asyncio.create_subprocess_exec("bash", str(script), local_base, runtime.suite or "bookworm")
    if await proc.wait() != 0:
        raise ServiceUnavailable(f"{script} failed")
    return local_base


async def ensure_runtime_image(host: DockerHost, settings: Settings, build_base: bool = False,
                               runtime: Runtime = RUNTIMES[DEFAULT]) -> str:
    """The tag of `runtime`'s image, built when its inputs (files, base image) changed."""
    base = await resolve_base(host, settings, build_base, runtime)
    context, files_digest = directory_context(settings.images_dir / "runtime-python")
    args = {"PYTHON_VERSION": runtime.python or "", "PYTHON_CACHE_TAG": runtime.cache_tag}
    return await _build_once(host, RUNTIME_REPO, context, f"{files_digest}\0{runtime.name}", base, "runtime",
                             f"the {runtime.name} runtime image", args)


async def _build_once(host: DockerHost, repo: str, context: bytes, files_digest: str, base: str, role: str,
                      what: str, buildargs: dict[str, str] | None = None) -> str:
    """`repo:<digest of the files and the base image>`, built on `base` unless it exists already."""
    digest = hashlib.sha256(f"{files_digest}\0{await host.image_id(base)}".encode()).hexdigest()[:16]
    tag = f"{repo}:{digest}"
    if await host.image_id(tag):
        return tag
    log.info("Building %s %s on %s", what, tag, base)
    result = await host.build(context, tag, labels={LABEL_ROLE: role},
                              buildargs={"BASE_IMAGE": base} | (buildargs or {}))
    if not result.ok:
        raise ServiceUnavailable(f"building {what} failed: {result.error}\n{result.log[-2000:]}")
    return tag


async def ensure_deploy_images(host: DockerHost, settings: Settings) -> list[str]:
    """The images deploy/docker-compose.yml runs: the control plane (also the workers') and Redis, built
    on the same base as the runtime image when their inputs changed, and tagged `local`."""
    base = await resolve_base(host, settings, build=True)
    ca = settings.build_ca_bundle.read_bytes() if settings.build_ca_bundle else b""
    plane = tree_context(
        {"Dockerfile": settings.images_dir / "control-plane" / "Dockerfile",
         "pyproject.toml": REPO_ROOT / "pyproject.toml", "README.md": REPO_ROOT / "README.md",
         "platform/faas": REPO_ROOT / "platform" / "faas",
         "images/runtime-python": settings.images_dir / "runtime-python"},
        extra={"ca.pem": ca})
    redis = directory_context(settings.images_dir / "redis")
    tags = []
    for repo, (context, files_digest), what in ((CONTROL_PLANE_REPO, plane, "the control-plane image"),
                                                (REDIS_REPO, redis, "the Redis image")):
        built = await _build_once(host, repo, context, files_digest, base, "deploy", what, proxy_buildargs())
        await host.tag(built, repo, DEPLOY_TAG)
        tags.append(f"{repo}:{DEPLOY_TAG}")
    return tags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faas-images", description="Build the platform's images when missing.")
    parser.add_argument("command", choices=["ensure", "runtime-tag", "deploy"],
                        help="ensure: the base and runtime images of every runtime; runtime-tag: print the default "
                             "runtime image's tag; "
                             "deploy: also the control-plane and Redis images of deploy/docker-compose.yml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[faas] %(message)s")
    settings = Settings.from_env()
    host = DockerHost(settings)

    async def run() -> list[str]:
        runtimes = image_runtimes() if args.command != "runtime-tag" else [RUNTIMES[DEFAULT]]
        tags = list(await asyncio.gather(*(  # (at the same time: each base is mostly downloads and unpacking)
            ensure_runtime_image(host, settings, build_base=args.command != "runtime-tag", runtime=r)
            for r in runtimes)))
        if args.command == "deploy":
            tags += await ensure_deploy_images(host, settings)
        return tags

    try:
        tags = asyncio.run(run())
    except ServiceUnavailable as exc:
        print(f"faas-images: {exc.message}", file=sys.stderr)
        return 1
    finally:
        host.close()
    print("\n".join(tags))
    return 0


if __name__ == "__main__":
    sys.exit(main())
