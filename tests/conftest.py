"""Fixtures shared by the tests. Integration fixtures start real processes: redis-server and faas-server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import Api, free_port, wait_for
from launch import PlatformProcess, WorkerProcess

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "images" / "runtime-python"))  # the runtime (fcruntime) for its unit tests
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its reaper image cannot be pulled here


LONGEST_FIRST = ("cluster/test_cluster.py", "integration/test_cells.py", "integration/test_up.py",
                 "cluster/test_swarm.py", "integration/test_event_triggers.py", "integration/test_soak.py",
                 "integration/test_async.py", "integration/test_pool.py", "integration/test_versions.py",
                 "integration/test_logs.py", "integration/test_deploy.py", "integration/test_openapi_fuzz.py",
                 "integration/test_cli.py", "integration/test_console.py", "integration/test_bad_input.py")
"""The files that take longest (about 80-200 s each, measured in CI), longest first. `scripts/test` gives whole
files to its two processes in the order they are collected (--no-loadscope-reorder), so the long ones go first
and the short ones fill in after: no process is left with one long file at the end while the other waits."""


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    tests = Path(__file__).parent

    def order(item) -> int:
        return rank.get(Path(item.fspath).relative_to(tests).as_posix(), len(rank))

    items.sort(key=order)  # (stable: the order within a file stays)


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


def _clean_up(docker_client, proc: PlatformProcess) -> list[str]:
    """Stop `proc`, remove what it left behind, and return the names of containers it left."""
    proc.stop()
    left = docker_client.containers.list(all=True, filters={"label": f"faas.platform={proc.platform_id}"})
    for c in left:
        c.remove(force=True)
    # One at a time: Docker fails removals of images that share parents when they run at once ("unrecognized
    # image ID", a 500).
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
        "FAAS_QUEUE_TIMEOUT": "1"}


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
