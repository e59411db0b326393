"""A Lambda container image (Python's awslambdaric behind the platform's Runtime API bridge) beside an FC custom
container (the platform's own Python runtime in an image), each cold and warm, in the same run."""

from __future__ import annotations

import time

import docker

from helpers import build_handler_image, build_ric_image, runtime_image
from launch import Up

from .common import cold_invoke, percentile, row

RIC_APP = "def handler(event, context):\n    return event\n"


def bench_lambda_image(platform: Up, client: docker.DockerClient, rounds: int) -> None:
    http, url = platform.http, platform.url
    ric = build_ric_image(client, "faas-bench-ric:1", RIC_APP)
    fc = build_handler_image(client, runtime_image(), "faas-bench-fc-image:1", "")
    sides = {"bench-ric": {"image": ric, "protocol": "lambda"}, "bench-fc-image": {"image": fc}}
    for name, container in sides.items():
        resp = http.post(f"{url}/v1/functions", json={"name": name, "runtime": "custom-container", "handler":
                                                      "app.handler", "customContainer": container})
        if resp.status_code != 201:
            raise SystemExit(f"bench: deploy of {name} failed: {resp.text}")
    cold: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(rounds):
        for name in sides:
            cold[name].append(cold_invoke(platform, name, i, "image"))
    warm: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(200):
        for name in sides:
            t0 = time.perf_counter()
            http.post(f"{url}/v1/functions/{name}/invocations", data=b"{}").raise_for_status()
            warm[name].append(time.perf_counter() - t0)
    for name in sides:
        http.delete(f"{url}/v1/functions/{name}")
    print(f"Lambda container image (awslambdaric, Runtime API bridge) beside an FC custom container (the platform's "
          f"Python runtime), {rounds} cold rounds and 200 warm calls each, alternating")
    print(row("Lambda image: cold", cold["bench-ric"]))
    print(row("FC custom container: cold", cold["bench-fc-image"]))
    print(row("Lambda image: warm", warm["bench-ric"]))
    print(row("FC custom container: warm", warm["bench-fc-image"]))
    print(f"  Lambda image / FC custom container: cold p50 "
          f"{percentile(cold['bench-ric'], 50) / percentile(cold['bench-fc-image'], 50):.2f}x, warm p50 "
          f"{percentile(warm['bench-ric'], 50) / percentile(warm['bench-fc-image'], 50):.2f}x")
