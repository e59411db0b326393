"""A Docker engine's function containers: how one is started (limits, mounts, its socket directory), watched,
paused, stopped and removed."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Mount

from .. import defaults
from ..errors import ContainerStartFailed, ServiceUnavailable
from ..labels import label_filter
from .engine import Engine, docker_time, make_client

log = logging.getLogger(__name__)

LAST_WORDS_BYTES = 500
"""How much of what a container that ended at once printed its start error shows."""


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


def cpu_limits(memory_mb: int) -> tuple[int, int]:
    """(cpu_shares, nano_cpus): a weight in proportion to memory, and a cap of CPU_PER_GB per GiB (at least 1 CPU)."""
    shares = max(2, memory_mb)  # the default weight of other processes is 1024, the weight of 1 GiB
    cpus = min(os.cpu_count() or 1, max(defaults.MIN_CPUS, memory_mb / 1024 * defaults.CPU_PER_GB))
    return shares, int(cpus * 1e9)


def scratch_sizes(memory_mb: int) -> tuple[int, int]:
    """(/tmp, /dev/shm) sizes in MiB of a container with `memory_mb`: both are memory, counted against its
    limit, so /tmp is half of it (at most TMPFS_MB) and /dev/shm a quarter (at most SHM_MB)."""
    return min(defaults.TMPFS_MB, memory_mb // 2), min(defaults.SHM_MB, memory_mb // 4)


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


class ContainerHost(Engine):
    """What the platform does with an engine's containers."""

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
            info = self.api.inspect_container(cid)
            started = self._started(info)
            if started is None:
                state = info.get("State") or {}
                if not state.get("Running"):  # its program ended at once: say how, with the last it printed
                    raise ContainerStartFailed(f"container {cid[:12]} exited at once (exit code "
                                               f"{state.get('ExitCode')}){self._last_words(cid)}")
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

    def _last_words(self, cid: str) -> str:
        """The end of what a container that ended printed (function output: untrusted, shown to its owner), as
        `: <text>`; "" when none."""
        try:
            raw = self.api.logs(cid, stdout=True, stderr=True, tail=5)
        except DockerException:
            return ""
        text = "".join(c if c.isprintable() else " " for c in raw[-LAST_WORDS_BYTES:].decode("utf-8", "replace"))
        return f": {text.strip()}" if text.strip() else ""

    async def start_container(self, config: ContainerConfig) -> StartedContainer:
        try:
            return await self._run(self._start, config)
        except (NotFound, ImageNotFound) as exc:
            raise ContainerStartFailed(f"cannot start a container of {config.image}: {exc}") from exc
        except ServiceUnavailable as exc:
            raise ContainerStartFailed(f"cannot start a container of {config.image}: {exc.message}") from exc

    async def kill(self, cid: str, thaw: bool = False) -> None:
        """Stop a container at once (its log is complete once it has stopped); gone already is fine. `thaw`: as
        remove_container's."""
        if thaw:
            await self._thaw(cid)
        try:
            await self._run(self.api.kill, cid)
        except (NotFound, ServiceUnavailable):
            pass

    async def _thaw(self, cid: str) -> None:
        """Unpause a container that is paused, or may be, before it is killed or removed: Docker's kill of a paused
        container can leave the engine stuck on it (seen with Debian 12's docker.io: "cannot resume a stopped
        container", then every later call about it hangs)."""
        try:
            await self._run(self.api.unpause, cid)
        except Exception as exc:  # (not paused after all, or gone: the kill or removal goes on)
            log.debug("Container %s: unpause before it ends: %s", cid[:12], exc)

    async def remove_container(self, cid: str, thaw: bool = False) -> None:
        """Remove a container (gone already is fine). `thaw`: it is paused, or may be (see _thaw)."""
        if thaw:
            await self._thaw(cid)
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


async def is_running(host: ContainerHost, cid: str) -> bool:
    """The container `cid` exists and its processes run (for RuntimeClient.wait_ready's liveness check)."""
    status = await host.status(cid)
    return status is not None and status.running
