"""Cold-start benchmark: sync invocations of a no-op function that each need a new container, beside the
bare baseline (docker create + start + first HTTP response of the same image, no platform in between).
Rounds alternate between the two so that both see the same machine noise."""

from __future__ import annotations

import argparse
import base64
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import docker
import requests

ROOT = Path(__file__).resolve().parents[1]
NOOP = "def handler(event, context):\n    return ''\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


class Platform:
    """A private redis-server and faas-server for the run."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.platform_id = "bench" + uuid.uuid4().hex[:6]
        self.redis_port, self.port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.procs.append(subprocess.Popen(
            [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        env = os.environ | {"FAAS_PORT": str(self.port), "FAAS_PLATFORM_ID": self.platform_id,
                            "FAAS_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0"}
        log = open(self.workdir / "server.log", "wb")
        self.procs.append(subprocess.Popen([sys.executable, "-m", "faas.server"], env=env, stdout=log, stderr=log))
        wait_until(self._healthy, 120, "the platform to answer /healthz")

    def _healthy(self) -> bool:
        try:
            return self.http.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def code_zip(source: str) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.py", source)
    return base64.b64encode(buf.getvalue()).decode()


def bare_cold_start(api, image: str, network: str) -> float:
    """Seconds from `docker create` to the first HTTP response of a container of `image`."""
    t0 = time.perf_counter()
    cid = api.create_container(image, host_config=api.create_host_config(network_mode=network))["Id"]
    try:
        api.start(cid)
        address = api.inspect_container(cid)["NetworkSettings"]["Networks"][network]["IPAddress"]
        while True:
            try:
                with socket.create_connection((address, 9000), timeout=1) as sock:
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.001)
    finally:
        api.remove_container(cid, force=True)


def bench_cold_start(platform: Platform, client: docker.DockerClient, rounds: int) -> None:
    http, url, name = platform.http, platform.url, "bench-noop"
    resp = http.post(url + "/v1/functions", json={"name": name, "code": {"zipFile": code_zip(NOOP)}})
    resp.raise_for_status()
    image = resp.json()["image"]
    network = "faas-functions"
    bare_cold_start(client.api, image, network)  # warm the image's page cache for both sides
    bare, plat = [], []
    for i in range(rounds):
        bare.append(bare_cold_start(client.api, image, network))
        # A config change makes a new version: the next invocation needs a new container.
        http.put(f"{url}/v1/functions/{name}", json={"environment": {"ROUND": str(i)}}).raise_for_status()
        time.sleep(0.3)  # let the old container's removal finish outside the measured window
        t0 = time.perf_counter()
        resp = http.post(f"{url}/v1/functions/{name}/invocations", data=b"")
        elapsed = time.perf_counter() - t0
        if resp.status_code != 200 or resp.headers.get("X-Fc-Cold-Start") != "true":
            raise SystemExit(f"bench: invocation {i} was not a cold start: {resp.status_code} {resp.headers}")
        plat.append(elapsed)
    warm = []
    for _ in range(200):
        t0 = time.perf_counter()
        http.post(f"{url}/v1/functions/{name}/invocations", data=b"").raise_for_status()
        warm.append(time.perf_counter() - t0)
    http.delete(f"{url}/v1/functions/{name}")

    def row(label: str, values: list[float]) -> str:
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        return (f"  {label:<34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
                f"   mean {statistics.mean(values) * 1000:7.1f} ms")

    print(f"Cold start, {rounds} rounds each, alternating (no-op Python function)")
    print(row("bare: create+start+first response", bare))
    print(row("platform: sync invocation, cold", plat))
    print(f"  ratio platform/bare: p50 {percentile(plat, 50) / percentile(bare, 50):.2f}x, "
          f"p99 {percentile(plat, 99) / percentile(bare, 99):.2f}x   (target: p50 <= 1.30x)")
    print(row("platform: sync invocation, warm", warm) + "   (200 sequential requests, for reference)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=25, help="cold starts measured on each side (at least 20)")
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="faas-bench-") as tmp:
        platform = Platform(Path(tmp))
        try:
            platform.start()
            bench_cold_start(platform, client, max(1, args.rounds))
        finally:
            platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
