"""The connection to a Docker engine: a client, and a bounded thread pool where its blocking calls run (an SDK
error becomes ServiceUnavailable); what the engine itself answers (ping, runtimes, the functions network).
Images and containers build on it (images.py, containers.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from ..config import Settings
from ..errors import ServiceUnavailable
from ..labels import LABEL_ROLE

log = logging.getLogger(__name__)


def make_client(docker_url: str | None, **kwargs) -> docker.DockerClient:
    """A Docker SDK client of the engine at `docker_url` (DOCKER_HOST), else of the environment's."""
    if docker_url:
        return docker.DockerClient(base_url=docker_url, **kwargs)
    return docker.from_env(**kwargs)


def docker_time(stamp: str | None) -> float:
    """Docker's RFC 3339 timestamp (nanoseconds, Z) as seconds since the epoch; 0.0 for none or the zero time."""
    if not stamp or stamp.startswith("0001-"):
        return 0.0
    from datetime import datetime

    whole, _, frac = stamp.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (frac or "0")[:6])
    except ValueError:
        return 0.0


class Engine:
    """One engine's client, and the bounded thread pool its blocking calls run in."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=settings.docker_threads, thread_name_prefix="docker")
        try:
            self.client = make_client(settings.docker_url, max_pool_size=settings.docker_threads, timeout=300)
        except DockerException as exc:
            raise ServiceUnavailable(f"cannot reach the Docker engine: {exc}") from exc
        self.api = self.client.api
        self._closed = False

    async def _run(self, func: Callable, *args, **kwargs):
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, partial(func, *args, **kwargs))
        except (NotFound, ImageNotFound):
            raise
        except APIError as exc:
            raise ServiceUnavailable(f"Docker engine error: {exc.explanation or exc}") from exc
        except DockerException as exc:
            raise ServiceUnavailable(f"Docker engine unreachable: {exc}") from exc
        except OSError as exc:  # connection refused, socket gone
            raise ServiceUnavailable(f"Docker engine unreachable: {exc}") from exc

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    async def ping(self) -> bool:
        try:
            return bool(await self._run(self.api.ping))
        except ServiceUnavailable:
            return False

    async def runtimes(self) -> set[str]:
        """The container runtimes the engine has (runc, and runsc where gVisor is registered)."""
        info = await self._run(self.api.info)
        return set(info.get("Runtimes") or ())

    async def ensure_network(self, name: str) -> None:
        def ensure():
            if self.api.networks(names=[name]):
                return
            try:
                self.api.create_network(
                    name, driver="bridge", check_duplicate=True,
                    options={"com.docker.network.bridge.enable_icc": "false"},
                    labels={LABEL_ROLE: "network"},
                )
                log.info("Created network %s (containers on it cannot reach each other)", name)
            except APIError as exc:
                if exc.status_code != 409 and "already exists" not in str(exc):
                    raise

        await self._run(ensure)
