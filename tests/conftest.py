"""Fixtures shared by the tests. Integration fixtures start real processes: redis-server and faas-server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import Api, free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "images" / "runtime-python"))  # the runtime (fcruntime) for its unit tests
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its reaper image cannot be pulled here


@pytest.fixture(scope="session")
def docker_client():
    docker = pytest.importorskip("docker")
    client = docker.from_env()
    try:
        client.ping()
    except Exception as exc:  # no engine: the integration tests cannot run; scripts/test starts one
        pytest.fail(f"no Docker engine answers ({exc}); run the tests with scripts/test")
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server process on a free loopback port, AOF on, data in a temporary folder."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run the tests with scripts/test")
    port = free_port()
    data = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--save", "",
         "--dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    wait_for(lambda: _ping(client), timeout=10, what="redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


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


def _clean_up(docker_client, proc: PlatformProcess) -> list[str]:
    """Stop `proc`, remove what it left behind, and return the names of containers it left."""
    proc.stop()
    left = docker_client.containers.list(all=True, filters={"label": f"faas.platform={proc.platform_id}"})
    for c in left:
        c.remove(force=True)
    for image in docker_client.images.list(filters={"label": f"faas.platform={proc.platform_id}"}):
        docker_client.images.remove(image.id, force=True)
    return [c.name for c in left]


@pytest.fixture(scope="session")
def platform(docker_client, redis_server, tmp_path_factory):
    """One running control plane for the session; on exit it must leave no container behind."""
    proc = PlatformProcess(redis_server, tmp_path_factory.mktemp("platform") / "server.log")
    proc.start()
    yield proc
    left = _clean_up(docker_client, proc)
    assert not left, f"containers left behind after shutdown: {left}"


# Short waits through settings: retries after 0.2 s (function) and from 0.2 s up to 1 s (system);
# a dead worker's lease runs out after 3 s.
FAST = {"FAAS_FUNCTION_RETRY_BASE": "0.2", "FAAS_SYSTEM_RETRY_INITIAL": "0.2", "FAAS_SYSTEM_RETRY_MAX_WAIT": "1",
        "FAAS_WORKER_LEASE": "3", "FAAS_SWEEP_INTERVAL": "0.2", "FAAS_AUDIT_INTERVAL": "2",
        "FAAS_QUEUE_TIMEOUT": "1", "FAAS_HEALTH_INTERVAL": "1"}


@pytest.fixture(scope="session")
def async_stack(docker_client, redis_server, tmp_path_factory):
    """A control plane with short retry settings and two worker processes of their own."""
    plat = PlatformProcess(redis_server, tmp_path_factory.mktemp("async") / "server.log", **FAST)
    plat.start()
    workers = WorkerProcess(plat)
    workers.start()
    yield plat, workers
    workers.stop()
    left = _clean_up(docker_client, plat)
    assert not left


@pytest.fixture
def start_platform(docker_client, redis_server, tmp_path):
    """Start control planes of its own for a test, with settings of its own (FAAS_* variables)."""
    started: list[PlatformProcess] = []

    def start(**env) -> PlatformProcess:
        proc = PlatformProcess(redis_server, tmp_path / f"server-{len(started)}.log", **env)
        started.append(proc)
        proc.start()
        return proc

    yield start
    left = []
    for proc in started:
        left += _clean_up(docker_client, proc)
    assert not left, f"containers left behind after shutdown: {left}"


@pytest.fixture
def api(platform) -> Api:
    return platform.api


@pytest.fixture
def fn_name(request) -> str:
    """A function name unique to the test."""
    base = request.node.name.lower().replace("_", "-")
    base = "".join(ch for ch in base if ch.isalnum() or ch == "-")[:40].strip("-")
    return f"{base}-{uuid.uuid4().hex[:6]}"
