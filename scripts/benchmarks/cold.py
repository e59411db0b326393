"""Cold starts: a no-op function through a cell and from its image beside bare Docker's create, start and first
response; and a gVisor function's beside runc's, with their warm calls."""

from __future__ import annotations

import socket
import time

import docker

from launch import Up

from .common import IMAGE_PATH_ENV, cold_invoke, deploy, percentile, row


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


def bench_cold_start(platform: Up, client: docker.DockerClient, rounds: int) -> None:
    http, url = platform.http, platform.url
    image = deploy(platform, "bench-noop")["image"]
    deploy(platform, "bench-noop-image", environment=IMAGE_PATH_ENV)
    network = "faas-functions"
    bare_cold_start(client.api, image, network)  # warm the image's page cache for every side
    bare, cell, from_image = [], [], []
    for i in range(rounds):
        bare.append(bare_cold_start(client.api, image, network))
        from_image.append(cold_invoke(platform, "bench-noop-image", i, "image"))
        cell.append(cold_invoke(platform, "bench-noop", i, "cell"))
    warm = []
    for _ in range(200):
        t0 = time.perf_counter()
        http.post(f"{url}/v1/functions/bench-noop/invocations", data=b"").raise_for_status()
        warm.append(time.perf_counter() - t0)
    for name in ("bench-noop", "bench-noop-image"):
        http.delete(f"{url}/v1/functions/{name}")

    print(f"Cold start, {rounds} rounds each, alternating (no-op Python function)")
    print(row("bare: create+start+first response", bare))
    print(row("platform: cold, from the image", from_image))
    print(row("platform: cold, through a cell", cell))
    print(f"  image path / bare: p50 {percentile(from_image, 50) / percentile(bare, 50):.2f}x, "
          f"p99 {percentile(from_image, 99) / percentile(bare, 99):.2f}x")
    print(f"  cell path: p50 {percentile(cell, 50) * 1000:.1f} ms (target <= 50 ms), "
          f"{percentile(from_image, 50) / percentile(cell, 50):.1f}x faster than the image path (target >= 8x); "
          f"{percentile(bare, 50) / percentile(cell, 50):.1f}x faster than bare Docker")
    print(row("platform: sync invocation, warm", warm) + "   (200 sequential requests with requests)")


def bench_sandbox(platform: Up, rounds: int) -> None:
    """gVisor beside runc, both from the image (gVisor functions take no cells), alternating; then warm
    sequential calls of each."""
    http, url = platform.http, platform.url
    deploy(platform, "bench-runc", environment=IMAGE_PATH_ENV, sandbox="runc")
    deploy(platform, "bench-gvisor", sandbox="gvisor")
    cold: dict[str, list[float]] = {"runc": [], "gvisor": []}
    for i in range(rounds):
        cold["runc"].append(cold_invoke(platform, "bench-runc", i, "image"))
        cold["gvisor"].append(cold_invoke(platform, "bench-gvisor", i, "image"))
    warm: dict[str, list[float]] = {"runc": [], "gvisor": []}
    for _ in range(300):
        for sandbox in ("runc", "gvisor"):
            t0 = time.perf_counter()
            http.post(f"{url}/v1/functions/bench-{sandbox}/invocations", data=b"").raise_for_status()
            warm[sandbox].append(time.perf_counter() - t0)
    for sandbox in ("runc", "gvisor"):
        http.delete(f"{url}/v1/functions/bench-{sandbox}")
    print(f"Sandboxes: cold starts from the image ({rounds} rounds, alternating), then 300 warm sequential calls "
          "each (no-op Python function)")
    for sandbox in ("runc", "gvisor"):
        print(row(f"{sandbox}: cold, from the image", cold[sandbox]))
        print(row(f"{sandbox}: warm sync invocation", warm[sandbox]))
    print(f"  gVisor beside runc: cold p50 {percentile(cold['gvisor'], 50) / percentile(cold['runc'], 50):.2f}x, "
          f"warm p50 {percentile(warm['gvisor'], 50) / percentile(warm['runc'], 50):.2f}x")
