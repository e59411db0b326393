"""Deploys: creating a function with new code (so a build) through the API, beside a bare `docker build` of the
same code by the recipe before the control plane compiled the byte code (a RUN step compiling /code)."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import uuid

import docker

from faas.builder.archive import read_zip
from faas.builder.context import function_context
from launch import Up

from .common import NOOP, code_zip, deploy, percentile, row


def bare_build(client: docker.DockerClient, runtime: str, source: str) -> float:
    """Seconds of `docker build` of `source` with the compiling step, on the platform's runtime image."""
    code = read_zip(base64.b64decode(code_zip(source)))
    context = function_context(code, runtime, {"faas.platform": "bench-bare-" + uuid.uuid4().hex[:8],
                                               "faas.function": "bench-bare"})
    tag = "faas-bench-bare:" + uuid.uuid4().hex[:12]
    t0 = time.perf_counter()
    for message in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                    decode=True):
        if "error" in message:
            raise SystemExit(f"bench: bare build failed: {message['error']}")
    took = time.perf_counter() - t0
    client.images.remove(tag, force=True)
    return took


def bench_deploy(platform: Up, client: docker.DockerClient, rounds: int) -> None:
    http, url = platform.http, platform.url
    runtime = subprocess.run([sys.executable, "-m", "faas.builder.images", "runtime-tag"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    bare, platform_side = [], []
    for i in range(1, rounds + 1):
        source = f"ROUND = {i}  # {uuid.uuid4().hex}\n" + NOOP  # new code: nothing cached
        bare.append(bare_build(client, runtime, source))
        t0 = time.perf_counter()
        deploy(platform, f"bench-deploy-{i}", source)
        platform_side.append(time.perf_counter() - t0)
        http.delete(f"{url}/v1/functions/bench-deploy-{i}")
    print(f"Deploy, {rounds} rounds each, alternating (a new no-op function each time: a build)")
    print(row("bare: docker build + compile step", bare))
    print(row("platform: create -> 201", platform_side))
    print(f"  platform / bare: p50 {percentile(platform_side, 50) / percentile(bare, 50):.2f}x")
