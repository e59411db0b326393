"""Docker, for every part of the platform: the labels that mark what it made, and the clients.

`DockerHost` is the control plane's access to its engine (builds, function containers, events); its
blocking SDK calls run in a bounded thread pool. The log collector process and `faas-up` (which removes the
containers a killed control plane left) make their own clients here with `make_client`, and find function
containers by `function_filter`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import signal
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Mount

from . import defaults
from .config import Settings
from .errors import ContainerStartFailed, InvalidArgument, ServiceUnavailable

log = logging.getLogger(__name__)

LABEL_PLATFORM = "faas.platform"
LABEL_FUNCTION = "faas.function"
LABEL_REVISION = "faas.version"
"""The revision of LATEST a container runs (its name from before versions existed)."""
LABEL_VERSION_ID = "faas.version-id"
"""LATEST or a published version's id; absent on containers from before versions existed (LATEST)."""
LABEL_FUNCTION_ID = "faas.function-id"
LABEL_CONFIG = "faas.config"
"""A digest of what a function container is told (pool.container.config_digest): a container of an older
revision whose digest is the current one's runs what the current one would."""
LABEL_ROLE = "faas.role"
"""What a labelled object is: ROLE_FUNCTION, `function-image`, `network`, or a base image's role."""
ROLE_FUNCTION = "function"
"""The role of a function container."""
ROLE_CELL = "cell"
"""The role of a cell: a started runtime container waiting for a function (faas.cells)."""
ROLE_UNPACK = "unpack"
"""The role of a container made (never started) to copy a function image's files out."""
CONTAINER_ROLES = (ROLE_FUNCTION, ROLE_CELL, ROLE_UNPACK)
"""The roles of the containers a platform makes (and removes when they are left behind)."""


def function_filter(platform_id: str, function: str | None = None, version_id: str | None = None) -> dict[str, str]:
    """The labels of the function containers of platform `platform_id` (of one function, if named, and one of
    its versions, if named)."""
    labels = {LABEL_PLATFORM: platform_id, LABEL_ROLE: ROLE_FUNCTION}
    if function is not None:
        labels[LABEL_FUNCTION] = function
    if version_id is not None:
        labels[LABEL_VERSION_ID] = version_id
    return labels


async def is_running(host: "DockerHost", cid: str) -> bool:
    """The container `cid` exists and its processes run (for RuntimeClient.wait_ready's liveness check)."""
    status = await host.status(cid)
    return status is not None and status.running


def label_filter(labels: dict[str, str]) -> list[str]:
    """Docker's `label` filter for objects that carry all of `labels`."""
    return [f"{k}={v}" for k, v in labels.items()]


@dataclass(frozen=True)
class ContainerConfig:
    """Everything needed to start one function container."""

    image: str
    name: str
    labels: dict[str, str]
    environment: dict[str, str]
    memory_mb: int
    command: list[str] | None = None
    mounts: tuple[tuple[str, str], ...] = ()
    """(host directory, container path) bound read-only (a cell's code directories)."""
    propagation: str | None = None
    """Their bind propagation (`rslave`: mounts made on the host later appear inside)."""
    runtime: str | None = None
    """The Docker runtime (`runsc`: gVisor); None: the engine's default."""


def kill_leftovers(container_id: str) -> int:
    """SIGKILL the host processes left by a container whose start failed (runsc's sandbox and gofer name its
    id on their command lines); how many there were."""
    killed = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"runsc" in cmdline and container_id.encode() in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    if killed:
        log.warning("Container %s: %d runsc process(es) left by a failed start killed", container_id[:12], killed)
    return killed


@dataclass(frozen=True)
class StartedContainer:
    id: str
    address: str
    """Its address on the functions network."""
    pid: int = 0
    """Its first process as the host sees it (0: unknown)."""
    socket: str = ""
    """Its runtime's Unix socket in its own host directory (FAAS_SOCKET_DIR); "" when reached by its pid."""


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    running: bool
    """Its processes exist: running, or paused."""
    exit_code: int | None
    oom_killed: bool
    labels: dict[str, str]
    created: float = 0.0
    paused: bool = False
    finished_at: float = 0.0
    """When it last stopped, in seconds since the epoch (0: it has not)."""


Unpack = Callable[[tarfile.TarFile, str, Path], int]
"""Writes a `docker cp` tar of the directory /<top> into an empty directory; returns the bytes written."""


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    log: str
    error: str | None = None


def cpu_limits(memory_mb: int) -> tuple[int, int]:
    """(cpu_shares, nano_cpus): a weight in proportion to memory, and a cap of CPU_PER_GB per GiB (at least 1 CPU)."""
    shares = max(2, memory_mb)  # the default weight of other processes is 1024, the weight of 1 GiB
    cpus = min(os.cpu_count() or 1, max(defaults.MIN_CPUS, memory_mb / 1024 * defaults.CPU_PER_GB))
    return shares, int(cpus * 1e9)


def scratch_sizes(memory_mb: int) -> tuple[int, int]:
    """(/tmp, /dev/shm) sizes in MiB of a container with `memory_mb`: both are memory, counted against its
    limit, so /tmp is half of it (at most TMPFS_MB) and /dev/shm a quarter (at most SHM_MB)."""
    return min(defaults.TMPFS_MB, memory_mb // 2), min(defaults.SHM_MB, memory_mb // 4)


def make_client(docker_url: str | None, **kwargs) -> docker.DockerClient:
    """A Docker SDK client of the engine at `docker_url` (DOCKER_HOST), else of the environment's."""
    if docker_url:
        return docker.DockerClient(base_url=docker_url, **kwargs)
    return docker.from_env(**kwargs)


class DockerHost:
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

    # -- engine
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

    # -- images
    async def image_id(self, ref: str) -> str | None:
        try:
            return (await self._run(self.api.inspect_image, ref))["Id"]
        except (NotFound, ImageNotFound):
            return None

    async def built_on(self, image: str, base: str) -> bool:
        """`image`'s layers begin with all of `base`'s: it was built FROM it."""
        def check() -> bool:
            mine = self.api.inspect_image(image)["RootFS"].get("Layers") or []
            theirs = self.api.inspect_image(base)["RootFS"].get("Layers") or []
            return bool(theirs) and mine[:len(theirs)] == theirs
        try:
            return await self._run(check)
        except (NotFound, ImageNotFound):
            return False

    async def copy_out(self, image: str, parts: dict[str, str], dest: Path, unpack: Unpack) -> int:
        """Unpack directories of `image` on the host: `parts` maps a name to a directory of the image, unpacked
        into `dest`/name (which must be empty) by `unpack` (the caller's: what is safe to write is its rule, not
        Docker's). Returns the bytes written."""

        def copy() -> int:
            cid = self.api.create_container(image, command=["true"], network_disabled=True,
                                            labels={LABEL_PLATFORM: self.settings.platform_id,
                                                    LABEL_ROLE: ROLE_UNPACK})["Id"]
            written = 0
            try:
                for name, path in parts.items():
                    stream, _ = self.api.get_archive(cid, path)
                    with tempfile.TemporaryFile() as spool:
                        for chunk in stream:
                            spool.write(chunk)
                        spool.seek(0)
                        with tarfile.open(fileobj=spool, mode="r:") as archive:
                            written += unpack(archive, os.path.basename(path), dest / name)
            finally:
                self.api.remove_container(cid, force=True)
            return written

        return await self._run(copy)

    async def tag(self, image: str, repository: str, tag: str) -> None:
        await self._run(self.api.tag, image, repository, tag, force=True)

    async def pull(self, ref: str) -> bool:
        return await self._transfer(self.api.pull, "Pull", ref)

    async def push(self, ref: str) -> bool:
        return await self._transfer(self.api.push, "Push", ref)

    async def _transfer(self, method, what: str, ref: str) -> bool:
        """Pull or push `ref`; the engine reports a failure in its progress stream, not always as an error."""
        repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")

        def run() -> str | None:
            for line in method(repo, tag=tag, stream=True, decode=True):
                if isinstance(line, dict) and line.get("error"):
                    return str(line["error"])
            return None

        try:
            error = await self._run(run)
        except (ServiceUnavailable, APIError, DockerException) as exc:
            error = str(exc)
        if error:
            log.info("%s of %s failed: %s", what, ref, error[:500])
        return error is None

    async def save_image(self, ref: str, out) -> None:
        """Write `docker save` of `ref` to the file `out`."""
        def save() -> None:
            for chunk in self.api.get_image(ref, chunk_size=1 << 20):
                out.write(chunk)
        await self._run(save)

    async def load_image(self, source) -> list[str]:
        """`docker load` of the file `source`; the references it loaded."""
        def load() -> list[str]:
            loaded = []
            for line in self.api.load_image(source):
                if line.get("error"):
                    raise InvalidArgument(f"docker load refused the stream: {line['error'][:300]}")
                stream = line.get("stream", "")
                if stream.startswith("Loaded image"):
                    loaded.append(stream.split(":", 1)[1].strip())
            return loaded
        return await self._run(load)

    async def build(self, context_tar: bytes | Path, tag: str, labels: dict[str, str] | None = None,
                    buildargs: dict[str, str] | None = None,
                    on_line: Callable[[str], None] | None = None) -> BuildResult:
        """Build an image from a tar context (in memory, or a file streamed to the engine); the log is
        streamed line by line to `on_line`, and returned."""

        def build() -> BuildResult:
            context = open(context_tar, "rb") if isinstance(context_tar, Path) else io.BytesIO(context_tar)
            with context:
                stream = self.api.build(
                    fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                    pull=False, decode=True, labels=labels or {}, buildargs=buildargs or {},
                )
                return _read_build(stream, on_line)

        return await self._run(build)

    async def remove_images(self, labels: dict[str, str], keep: set[str] = frozenset()) -> int:
        """Remove images with all of `labels`, except those tagged in `keep`; returns how many went."""

        def remove() -> int:
            filters = {"label": label_filter(labels)}
            removed = 0
            for image in self.api.images(filters=filters):
                if keep & set(image.get("RepoTags") or ()):
                    continue
                try:
                    self.api.remove_image(image["Id"], force=True, noprune=False)
                    removed += 1
                except NotFound:
                    pass
                except APIError as exc:  # still used by a container that is going away: leave it
                    log.warning("Image %s not removed: %s", image["Id"][:19], exc.explanation or exc)
            return removed

        return await self._run(remove)

    # -- containers
    def _socket_dir(self, name: str) -> Path | None:
        """The host directory of container `name`'s runtime socket (FAAS_SOCKET_DIR), None when unset."""
        root = self.settings.socket_dir
        return root / self.settings.platform_id / name if root is not None else None

    def _start(self, config: ContainerConfig) -> StartedContainer:
        shares, nano_cpus = cpu_limits(config.memory_mb)
        mounts = [Mount(target, source, type="bind", read_only=True, propagation=config.propagation)
                  for source, target in config.mounts]
        sockets = self._socket_dir(config.name)
        if sockets is not None:  # a directory of its own (no other container sees it), where its runtime listens
            sockets.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            sockets.mkdir(mode=0o700, exist_ok=True)
            os.chmod(sockets, 0o777)  # the container's user (any, for a custom container) makes its socket there
            mounts.append(Mount(defaults.SOCKET_MOUNT, str(sockets), type="bind", read_only=False))
        tmp_mb, shm_mb = scratch_sizes(config.memory_mb)
        tmpfs = {"/tmp": f"rw,nosuid,nodev,size={tmp_mb}m,mode=1777"}
        host_config = self.api.create_host_config(
            mem_limit=f"{config.memory_mb}m",
            memswap_limit=f"{config.memory_mb}m",
            cpu_shares=shares,
            nano_cpus=nano_cpus,
            pids_limit=defaults.PIDS_LIMIT,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs=tmpfs,
            network_mode=self.settings.network,
            log_config=LogConfig(type="json-file", config={"max-size": defaults.LOG_MAX_SIZE, "max-file": "1"}),
            ipc_mode="private",
            shm_size=f"{shm_mb}m",
            mounts=mounts or None,
            runtime=config.runtime,
        )
        created = self.api.create_container(
            config.image, command=config.command, name=config.name, labels=config.labels,
            environment=config.environment, host_config=host_config, user=defaults.CONTAINER_USER,
            detach=True,
        )
        cid = created["Id"]
        try:
            self.api.start(cid)
            started = self._started(self.api.inspect_container(cid))
            if started is None:
                raise ContainerStartFailed(f"container {cid[:12]} has no address on {self.settings.network}")
            return started
        except BaseException:
            try:
                self.api.remove_container(cid, force=True)
            except DockerException:
                pass
            if sockets is not None:
                shutil.rmtree(sockets, ignore_errors=True)
            if config.runtime == "runsc":  # a failed runsc start can leave its sandbox and gofer running
                kill_leftovers(cid)
            raise

    async def start_container(self, config: ContainerConfig) -> StartedContainer:
        try:
            return await self._run(self._start, config)
        except (NotFound, ImageNotFound) as exc:
            raise ContainerStartFailed(f"cannot start a container of {config.image}: {exc}") from exc
        except ServiceUnavailable as exc:
            raise ContainerStartFailed(f"cannot start a container of {config.image}: {exc.message}") from exc

    async def kill(self, cid: str) -> None:
        """Stop a container at once (its log is complete once it has stopped); gone already is fine."""
        try:
            await self._run(self.api.kill, cid)
        except (NotFound, ServiceUnavailable):
            pass

    async def remove_container(self, cid: str) -> None:
        try:
            await self._run(self._remove, cid)
        except NotFound:
            pass
        except ServiceUnavailable as exc:
            if "already in progress" not in exc.message:
                raise

    def _remove(self, cid: str) -> None:
        """Remove the container, and its socket directory (FAAS_SOCKET_DIR) after it."""
        sockets = None
        if self.settings.socket_dir is not None:
            sockets = self._socket_dir(self.api.inspect_container(cid).get("Name", "").lstrip("/"))
        self.api.remove_container(cid, force=True)
        if sockets is not None and sockets.name:
            shutil.rmtree(sockets, ignore_errors=True)

    async def status(self, cid: str) -> ContainerStatus | None:
        try:
            info = await self._run(self.api.inspect_container, cid)
        except NotFound:
            return None
        state = info["State"]
        return ContainerStatus(
            id=info["Id"], running=bool(state.get("Running")), exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")), labels=info["Config"].get("Labels") or {},
            paused=bool(state.get("Paused")), finished_at=docker_time(state.get("FinishedAt")),
        )

    async def wait_exit(self, cid: str, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._run(self.api.wait, cid, timeout=timeout), timeout + 1)
        except (NotFound, asyncio.TimeoutError, ServiceUnavailable):
            pass

    async def list_containers(self, labels: dict[str, str]) -> list[ContainerStatus]:
        filters = {"label": label_filter(labels)}
        found = await self._run(self.api.containers, all=True, filters=filters)
        return [
            ContainerStatus(id=c["Id"], running=c.get("State") in ("running", "paused"), exit_code=None,
                            oom_killed=False, labels=c.get("Labels") or {}, created=float(c.get("Created") or 0),
                            paused=c.get("State") == "paused")
            for c in found
        ]

    def _started(self, info: dict) -> StartedContainer | None:
        network = info["NetworkSettings"]["Networks"].get(self.settings.network) or {}
        if not network.get("IPAddress"):
            return None
        sockets = self._socket_dir(info.get("Name", "").lstrip("/"))
        return StartedContainer(id=info["Id"], address=network["IPAddress"], pid=info["State"].get("Pid") or 0,
                                socket=str(sockets / "runtime.sock") if sockets is not None else "")

    async def running(self, cid: str) -> StartedContainer | None:
        """A running container's address and pid, None when it is gone or not on the functions network."""
        try:
            return self._started(await self._run(self.api.inspect_container, cid))
        except NotFound:
            return None

    def watch(self, labels: dict[str, str], actions: tuple[str, ...], on_event: Callable[[str, str], None],
              loop: asyncio.AbstractEventLoop) -> threading.Thread:
        """Follow Docker's events of containers with `labels` in a thread; `on_event(action, container id)` is
        called in `loop` for each of `actions`. A broken stream is opened again, from where it broke."""
        filters = {"type": "container", "label": label_filter(labels), "event": list(actions)}

        def run() -> None:
            since = time.time()
            while not self._closed:
                client = None
                try:
                    client = make_client(self.settings.docker_url, timeout=None)
                    for event in client.api.events(decode=True, since=since, filters=filters):
                        since = event.get("time", since)
                        loop.call_soon_threadsafe(on_event, event.get("Action") or event.get("status", ""),
                                                  event.get("id", ""))
                except Exception as exc:  # the engine went away: listen again once it is back
                    if self._closed:
                        return
                    log.warning("Docker events ended (%s); listening again", exc)
                    time.sleep(1)
                finally:
                    if client is not None:
                        client.close()

        thread = threading.Thread(target=run, name="docker-events", daemon=True)
        thread.start()
        return thread

    async def pause(self, cid: str) -> None:
        await self._run(self.api.pause, cid)

    async def unpause(self, cid: str) -> None:
        await self._run(self.api.unpause, cid)

    async def logs(self, cid: str, tail: int = 100) -> str:
        try:
            data = await self._run(self.api.logs, cid, stdout=True, stderr=True, tail=tail)
        except NotFound:
            return ""
        return data.decode("utf-8", "replace")


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


def _read_build(stream, on_line: Callable[[str], None] | None) -> BuildResult:
    """The outcome of an image build from the engine's stream of progress messages."""
    lines: list[str] = []
    error = None
    for chunk in stream:
        text = chunk.get("stream") or chunk.get("status") or ""
        if "error" in chunk:
            error = chunk.get("error", "").strip()
            text = f"ERROR: {error}\n"
        if text:
            lines.append(text)
            if on_line is not None:
                on_line(text)
    return BuildResult(ok=error is None, log="".join(lines), error=error)
