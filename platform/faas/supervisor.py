"""`faas-up`: what `scripts/up` runs in the foreground. It starts the platform's parts (a private Redis when
asked, the control plane, the async workers), restarts a part that dies (with a growing wait, logged) while
the others keep running, and on TERM or Ctrl-C stops them in order: workers, control plane (which removes its
function containers once their invocations are done), Redis. Function containers that a killed control
plane could not remove are removed on the way out.

    faas-up [--redis-conf FILE]     # FILE: a redis.conf for the private Redis (scripts/up writes one)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from .claim import PlatformInUse, check
from .config import Settings
from .docker_host import CONTAINER_ROLES, LABEL_PLATFORM, LABEL_ROLE, make_client
from .lifeline import die_with_parent
from .startup import LISTEN_FD_ENV, StopSignal, setup_logging, wait_for_redis

log = logging.getLogger("faas.up")

RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Waits before a part that died is started again, growing while it keeps dying."""

HEALTHY_AFTER_S = 60.0
"""A part that has run this long is healthy again: its next restart waits the shortest time."""

STOP_TIMEOUT_S = 90.0
"""Seconds a part has to stop after TERM (the control plane waits for invocations, then removes containers)."""

LISTEN_BACKLOG = 4096
"""Connections the kernel keeps waiting on the listening socket (capped by net.core.somaxconn): what queues
while a control plane restarts."""


@dataclass
class Part:
    name: str
    command: list[str]
    proc: subprocess.Popen | None = None
    deaths: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    listener: socket.socket | None = None
    """A listening socket the part is handed (FAAS_LISTEN_FD): it stays open here while the part restarts."""

    def start(self) -> None:
        env: dict[str, str] | None = None
        fds: tuple[int, ...] = ()
        if self.listener is not None:
            env, fds = os.environ | {LISTEN_FD_ENV: str(self.listener.fileno())}, (self.listener.fileno(),)
        # A session of its own: a Ctrl-C on the terminal reaches the supervisor, which stops the parts in order.
        # It dies with the supervisor, even one that was killed.
        self.proc = subprocess.Popen(self.command, start_new_session=True, preexec_fn=die_with_parent(),
                                     env=env, pass_fds=fds)
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("%s started (pid %d)", self.name, self.proc.pid)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
            proc.kill()
            proc.wait()


def listen(host: str, port: int) -> socket.socket:
    """The control plane's listening socket, made by the supervisor and handed to each control plane it starts
    (as systemd's socket activation does): while a control plane that died is started again, connections wait
    in its backlog instead of being refused."""
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def restart_delay(deaths: int, ran_for: float) -> float:
    """The wait before restarting a part that died for the `deaths`-th time in a row after running `ran_for`."""
    if ran_for >= HEALTHY_AFTER_S:
        return RESTART_BACKOFF_S[0]
    return RESTART_BACKOFF_S[min(deaths, len(RESTART_BACKOFF_S)) - 1]


def remove_left_containers(settings: Settings) -> int:
    """Remove this platform's function containers and cells (a control plane that was killed left them)."""
    try:
        client = make_client(settings.docker_url)
        ours = client.containers.list(all=True, filters={"label": f"{LABEL_PLATFORM}={settings.platform_id}"})
        left = [c for c in ours if c.labels.get(LABEL_ROLE) in CONTAINER_ROLES]
        for container in left:
            container.remove(force=True)
        client.close()
        return len(left)
    except Exception as exc:  # the engine is away: nothing to remove that we could reach
        log.warning("could not remove function containers: %s", exc)
        return 0


class Supervisor:
    def __init__(self, parts: list[Part], settings: Settings, redis_part: Part | None):
        self.parts = parts
        self.settings = settings
        self.redis_part = redis_part
        self.stopping = StopSignal()

    def run(self) -> int:
        self.stopping.install()
        if self.redis_part is not None:
            self.redis_part.start()
        if not wait_for_redis(self.settings, self.stopping, "faas-up"):
            self.shutdown()
            return 0
        for part in self.parts:
            part.start()
        print(f"faas: up; API on http://{self.settings.host}:{self.settings.port} (Ctrl-C stops it)", flush=True)
        while not self.stopping.is_set():
            self.watch(time.monotonic())
            self.stopping.wait(0.2)
        self.shutdown()
        return 0

    def watch(self, now: float) -> None:
        """Restart what died, each after its wait; the others keep running."""
        every = ([self.redis_part] if self.redis_part else []) + self.parts
        for part in every:
            if part.restart_at is not None:
                if now >= part.restart_at:
                    part.start()
                continue
            if part.running():
                continue
            ran_for = now - part.started_at
            part.deaths = 1 if ran_for >= HEALTHY_AFTER_S else part.deaths + 1
            delay = restart_delay(part.deaths, ran_for)
            log.warning("%s exited with %s after %.1fs; starting it again in %.1fs", part.name,
                        part.proc.returncode if part.proc is not None else None, ran_for, delay)
            part.restart_at = now + delay

    def shutdown(self) -> None:
        log.info("stopping: workers, control plane, then Redis")
        for part in reversed(self.parts):  # workers first: they invoke through the control plane
            part.stop()
        removed = remove_left_containers(self.settings)
        if removed:
            log.info("removed %d function container(s) left by a control plane that was killed", removed)
        if self.redis_part is not None:
            self.redis_part.stop()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faas-up", description="Run and supervise the platform's parts.")
    parser.add_argument("--redis-conf", help="start a private redis-server with this configuration file")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"faas-up: {exc}", file=sys.stderr)
        return 2
    try:  # before anything starts: a second faas-up with the platform id of a running one touches nothing
        check(settings.cells_dir, settings.platform_id)
    except PlatformInUse as exc:
        print(f"faas-up: {exc}", file=sys.stderr)
        return 2
    redis_part = Part("redis-server", ["redis-server", args.redis_conf]) if args.redis_conf else None
    try:
        listener = listen(settings.host, settings.port)
    except OSError as exc:
        print(f"faas-up: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 2
    parts = [Part("faas-server", [sys.executable, "-m", "faas.server"], listener=listener),
             Part("faas-worker", [sys.executable, "-m", "faas.queue.worker"])]
    return Supervisor(parts, settings, redis_part).run()


if __name__ == "__main__":
    sys.exit(main())
