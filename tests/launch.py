"""Launchers of the platform for the tests, the benchmarks and the soak: each starts it as one way of running it
does, in a process of its own, and stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from helpers import Api, free_port, wait_for


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
        if self.proc.poll() is not None:
            raise AssertionError(f"faas-server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
        try:
            return self.api.request("GET", "/healthz", timeout=2).status_code == 200
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL: the control plane dies without cleaning up, as in a crash."""
        self.proc.kill()
        self.proc.wait(timeout=30)

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
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
