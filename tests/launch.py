"""Launchers of the platform for the tests, the benchmarks and the soak: each starts it as one way of running it
does, in a process of its own, and stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import redis
import requests

from helpers import Api, free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]


def _started(proc: subprocess.Popen | None, what: str) -> subprocess.Popen:
    """`proc`, which only a launcher that was started has."""
    if proc is None:
        raise RuntimeError(f"{what} was not started")
    return proc


class PlatformProcess:
    """A faas-server subprocess with its own platform id, Redis prefix and port."""

    def __init__(self, redis_url: str, log_path: Path, **env):
        self.platform_id = env.pop("FAAS_PLATFORM_ID", None) or "t" + uuid.uuid4().hex[:10]
        self.port = free_port()
        self.log_path = log_path
        self.env = os.environ | {
            "FAAS_PORT": str(self.port),
            "FAAS_REDIS_URL": redis_url,
            "FAAS_REDIS_PREFIX": f"faas-{self.platform_id}",
            "FAAS_PLATFORM_ID": self.platform_id,
            "FAAS_REAPER_INTERVAL": "0.2",
            "FAAS_API_TOKEN": "faas_admin_test_" + uuid.uuid4().hex,
            "FAAS_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
            # One cell kept ready, not four: each costs a container start, and only tests/integration/test_cells.py
            # (which sets its own) counts them.
            "FAAS_CELLS_MIN": "1",
        } | env
        self.env.pop("FAAS_TOKEN", None)
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = Api(self.url, self.env["FAAS_API_TOKEN"])
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "faas.server"], env=self.env, stdout=log, stderr=log)
        try:
            wait_for(self._healthy, timeout=120, what=f"faas-server (log: {self.log_path})")
        except BaseException:
            self.proc.kill()  # never leave a half-started server behind
            self.proc.wait()
            raise

    def _healthy(self) -> bool:
        proc = _started(self.proc, "faas-server")
        if proc.poll() is not None:
            raise AssertionError(f"faas-server exited with {proc.returncode}:\n{self.log()[-3000:]}")
        try:
            return self.api.request("GET", "/healthz", timeout=2).status_code == 200
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL: the control plane dies without cleaning up, as in a crash."""
        proc = _started(self.proc, "faas-server")
        proc.kill()
        proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=60)
        return self.proc.returncode if self.proc else 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class WorkerProcess:
    """`faas-worker` (the supervisor and its worker processes) for a platform."""

    def __init__(self, platform: PlatformProcess, count: int = 2):
        self.platform = platform
        self.count = count
        self.proc: subprocess.Popen | None = None
        self.log_path = platform.log_path.with_name(platform.log_path.stem + "-workers.log")

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "faas.queue.worker", "--count", str(self.count)],
                                     env=self.platform.env, stdout=log, stderr=log)

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(_started(self.proc, "faas-worker").pid)], capture_output=True,
                             text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Up:
    """`scripts/up` as users run it: faas-up supervising a private Redis with its password, the control plane and
    the async workers, in a var directory of its own, with the caller's FAAS_* settings and none of this process's
    (the rest at their defaults)."""

    def __init__(self, var: Path, platform_id: str, **settings: str):
        self.var = var
        self.platform_id = platform_id
        self.port = free_port()
        self.token = "faas_admin_" + uuid.uuid4().hex
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")} | settings | {
            "FAAS_VAR_DIR": str(var), "FAAS_PORT": str(self.port), "FAAS_PLATFORM_ID": platform_id,
            "FAAS_API_TOKEN": self.token, "FAAS_VENV": str(ROOT / ".venv")}
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = Api(self.url, self.token)
        self.http = self.api.http
        """A session that sends the token, for calls made without `api`'s defaults."""
        self.proc: subprocess.Popen | None = None
        self.log_path = var / "up.log"

    def start(self, timeout: float = 180) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(ROOT / "scripts" / "up")], env=self.env, stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL)
        wait_for(self.healthy, timeout=timeout, interval=0.2, what=f"scripts/up (log: {self.log_path})")

    def healthy(self) -> bool:
        """Whether /healthz answers 200; an error once scripts/up has exited, since it will not answer again."""
        proc = _started(self.proc, "scripts/up")
        if proc.poll() is not None:
            raise RuntimeError(f"scripts/up exited with {proc.returncode}:\n{self.log()[-3000:]}")
        try:
            return self.api.request("GET", "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child(self, pattern: str) -> int:
        """The pid of one of faas-up's parts whose command line matches `pattern` (0: none running)."""
        parent = _started(self.proc, "scripts/up").pid
        out = subprocess.run(["pgrep", "-P", str(parent), "-f", pattern], capture_output=True, text=True)
        pids = out.stdout.split()
        return int(pids[0]) if pids else 0

    def workers(self) -> list[int]:
        """faas-up's worker supervisor and its worker processes."""
        top = self.child("faas.queue.worker")
        out = subprocess.run(["pgrep", "-P", str(top)], capture_output=True, text=True).stdout if top else ""
        return [top, *map(int, out.split())] if top else []

    def signal_workers(self, sig: int) -> None:
        for pid in self.workers():
            os.kill(pid, sig)

    def redis_port(self) -> int:
        found = re.search(r"^port (\d+)$", (self.var / "redis.conf").read_text(), re.M)
        if found is None:
            raise RuntimeError(f"no port in {self.var / 'redis.conf'}")
        return int(found.group(1))

    def redis_url(self) -> str:
        """The private Redis's URL, password included (scripts/up writes both once it has started)."""
        password = (self.var / "redis-password").read_text().strip()
        return f"redis://:{password}@127.0.0.1:{self.redis_port()}/0"

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url())

    def stop(self, timeout: float = 120) -> int:
        """TERM, and faas-up's exit status; past `timeout` a SIGKILL, and TimeoutExpired."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode
