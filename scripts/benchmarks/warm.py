"""Warm invocations through the API beside direct calls to the same container, and the cost of unpausing a paused
one."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker

from helpers import free_port
from launch import Up

from .common import deploy, percentile, row, wait_until
from .wrk import wrk


def the_container(client: docker.DockerClient, platform: Up, name: str):
    """The function's one container, found through the API: a container that started as a cell carries no
    faas.function label."""
    resp = platform.http.get(f"{platform.url}/v1/functions/{name}/instances")
    resp.raise_for_status()
    (instance,) = resp.json()["instances"]
    return client.containers.get(instance["instanceId"])


def container_url(client: docker.DockerClient, platform: Up, name: str) -> str:
    """The protocol URL of the function's one container."""
    address = the_container(client, platform, name).attrs["NetworkSettings"]["Networks"]["faas-functions"]["IPAddress"]
    return f"http://{address}:9000/invoke"


@contextlib.contextmanager
def floor_proxy(container, function: str) -> Iterator[str]:
    """floor.py (the least a Python control plane can cost) in front of `container`; yields its URL."""
    port = free_port()
    with _serving([sys.executable, str(Path(__file__).with_name("floor.py")), str(port),
                   str(container.attrs["State"]["Pid"]), container.id, function], port, "the floor proxy") as url:
        yield url


@contextlib.contextmanager
def _serving(argv: list[str], port: int, what: str) -> Iterator[str]:
    """A proxy started with `argv` that listens on 127.0.0.1:`port`, stopped after; yields its /invoke URL."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening(port), 20, what)
        yield f"http://127.0.0.1:{port}/invoke"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


HAPROXY = """global
    maxconn 1024
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend bench
    bind 127.0.0.1:{port}
    default_backend container
backend container
    server runtime {address}:9000
"""


@contextlib.contextmanager
def haproxy(direct_url: str) -> Iterator[str]:
    """Debian's haproxy (C) in front of the container: the price of one proxy hop on this machine, as a baseline for
    a platform that also authenticates, routes, counts and logs. Yields the URL that goes through it."""
    address = direct_url.split("//", 1)[1].split(":", 1)[0]
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as config:
        config.write(HAPROXY.format(port=port, address=address))
        config.flush()
        with _serving(["haproxy", "-f", config.name, "-db"], port, "haproxy") as url:
            yield url


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def bench_warm(platform: Up, client: docker.DockerClient, seconds: int) -> None:
    name = "bench-warm"
    # One container serves both sides: 16 at once, so that the 16 connections all reach it. The fixed keep-alive
    # (300 s): the direct runs bypass the pool, which would otherwise see the container idle past the window it
    # learned from the API runs' millisecond gaps, and remove it under wrk.
    deploy(platform, name, instanceConcurrency=16, maxInstances=1, keepAlivePolicy="fixed")
    api_url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(api_url).raise_for_status()
    direct_url = container_url(client, platform, name)
    # The direct call is the one the platform makes: the same x-fc-* headers of the container protocol.
    protocol = {"x-fc-request-id": str(uuid.uuid4()), "x-fc-function-name": name,
                "x-fc-function-handler": "index.handler", "x-fc-function-memory": "128",
                "x-fc-function-timeout": "60", "x-fc-function-initializer": "", "x-fc-initialization-timeout": "30"}
    auth = {"Authorization": f"Bearer {platform.token}"}
    wrk(api_url, 1, 2, auth)  # warm-up of both paths
    wrk(direct_url, 1, 2, protocol)
    api1, direct1 = wrk(api_url, 1, seconds, auth), wrk(direct_url, 1, seconds, protocol)
    api16, direct16 = wrk(api_url, 16, seconds, auth), wrk(direct_url, 16, seconds, protocol)
    bare16 = wrk(direct_url, 16, seconds)
    with haproxy(direct_url) as proxied:
        wrk(proxied, 1, 2, protocol)
        proxy1, proxy16 = wrk(proxied, 1, seconds, protocol), wrk(proxied, 16, seconds, protocol)
    with floor_proxy(the_container(client, platform, name), name) as floor:
        wrk(floor, 1, 2)
        floor1, floor16 = wrk(floor, 1, seconds), wrk(floor, 16, seconds)
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    # Many clients on a function with default settings: one request per container, so the pool scales out.
    default = "bench-warm-default"
    deploy(platform, default)
    default_url = f"{platform.url}/v1/functions/{default}/invocations"
    platform.http.post(default_url).raise_for_status()
    scaling = wrk(default_url, 16, seconds, auth)  # from one warm container: the pool starts the rest meanwhile
    instances = len(platform.http.get(f"{platform.url}/v1/functions/{default}/instances").json()["instances"])
    scaled = wrk(default_url, 16, seconds, auth)  # with them all warm
    platform.http.delete(f"{platform.url}/v1/functions/{default}")
    us = 1e6
    print(f"Warm sync invocations of a no-op function (wrk, {seconds} s each, same container on both sides;")
    print("direct = the protocol call the platform makes, x-fc-* headers included)")
    print(f"  1 connection    platform p50 {api1['p50'] * us:6.0f} us  p99 {api1['p99'] * us:6.0f} us   |   direct "
          f"p50 {direct1['p50'] * us:6.0f} us  p99 {direct1['p99'] * us:6.0f} us   |   p50 ratio "
          f"{api1['p50'] / direct1['p50']:.2f}x   (target: <= 3x)")
    print(f"  16 connections  platform {api16['rps']:7.0f} req/s   |   direct {direct16['rps']:7.0f} req/s   |   "
          f"{api16['rps'] / direct16['rps'] * 100:.0f}% of direct   (target: >= 55%)")
    print(f"  16 connections, direct with no x-fc-* headers: {bare16['rps']:7.0f} req/s "
          f"(platform at {api16['rps'] / bare16['rps'] * 100:.0f}% of it)")
    print(f"  16 connections on a function with default settings (one request per container): {scaling['rps']:7.0f} "
          f"req/s while the pool scaled out to {instances} containers, {scaled['rps']:7.0f} req/s once they were "
          f"warm ({scaled['rps'] / api16['rps'] * 100:.0f}% of one container taking 16 at once)")
    print(f"  haproxy in front of the same container (one proxy hop, nothing else): 1 connection p50 "
          f"{proxy1['p50'] * us:6.0f} us ({proxy1['p50'] / direct1['p50']:.2f}x direct); 16 connections "
          f"{proxy16['rps']:7.0f} req/s ({proxy16['rps'] / direct16['rps'] * 100:.0f}% of direct)")
    print(f"  httptools + the platform's container client, nothing else (floor.py): 1 connection p50 "
          f"{floor1['p50'] * us:6.0f} us ({floor1['p50'] / direct1['p50']:.2f}x direct; the platform "
          f"{api1['p50'] / floor1['p50']:.2f}x it); 16 connections {floor16['rps']:7.0f} req/s "
          f"({floor16['rps'] / direct16['rps'] * 100:.0f}% of direct; the platform at "
          f"{api16['rps'] / floor16['rps'] * 100:.0f}% of it)")


def bench_unpause(platform: Up, rounds: int) -> None:
    name = "bench-pause"
    deploy(platform, name, pauseAfterSeconds=1)
    url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(url).raise_for_status()

    def state() -> str:
        listed = platform.http.get(f"{platform.url}/v1/functions/{name}/instances").json()["instances"]
        return listed[0]["state"] if listed else ""

    unpaused, warm = [], []
    for _ in range(rounds):
        for _ in range(3):
            t0 = time.perf_counter()
            platform.http.post(url).raise_for_status()
            warm.append(time.perf_counter() - t0)
        wait_until(lambda: state() == "Paused", 20, "the container to be paused")
        t0 = time.perf_counter()
        resp = platform.http.post(url)
        unpaused.append(time.perf_counter() - t0)
        if resp.headers.get("X-Fc-Cold-Start") != "false":
            raise SystemExit("bench: the invocation after a pause was a cold start")
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    print(f"Paused containers ({rounds} rounds; requests client, so add its ~1 ms to both)")
    print(row("warm invocation", warm))
    print(row("invocation of a paused container", unpaused))
    print(f"  cost of the unpause: p50 {(percentile(unpaused, 50) - percentile(warm, 50)) * 1000:.1f} ms")
