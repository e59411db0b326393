"""Aliases: a weighted alias's split and throughput beside LATEST, and an alias moved under load with reserved
containers beside without."""

from __future__ import annotations

import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from launch import Up

from .common import code_zip, deploy, wait_until
from .wrk import wrk, wrk_errors


def publish_two(platform: Up, name: str, **spec) -> None:
    """`name` with versions 1 and 2 (different code)."""
    deploy(platform, name, "def handler(event, context):\n    return 'one'\n", **spec)
    platform.http.post(f"{platform.url}/v1/functions/{name}/versions", json={}).raise_for_status()
    platform.http.put(f"{platform.url}/v1/functions/{name}",
                      json={"code": {"zipFile": code_zip("def handler(event, context):\n    return 'two'\n")}}
                      ).raise_for_status()
    platform.http.post(f"{platform.url}/v1/functions/{name}/versions", json={}).raise_for_status()


def bench_split(platform: Up, invocations: int, seconds: int) -> None:
    name = "bench-split"
    publish_two(platform, name, instanceConcurrency=16, maxInstances=2)
    platform.http.post(f"{platform.url}/v1/functions/{name}/aliases", json={
        "aliasName": "canary", "versionId": "1", "additionalVersionWeight": {"2": 0.1}}).raise_for_status()
    url = f"{platform.url}/v1/functions/{name}/invocations"
    local = threading.local()

    def one(_):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {platform.token}"
        resp = session.post(url + "?qualifier=canary", timeout=60)
        resp.raise_for_status()
        return resp.headers["X-Fc-Function-Version"], resp.text

    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(invocations)))
    took = time.perf_counter() - t0
    share = sum(1 for v, _ in results if v == "2") / len(results)
    wrong = sum(1 for v, text in results if text != {"1": "one", "2": "two"}[v])
    auth = {"Authorization": f"Bearer {platform.token}"}
    each = max(2, seconds // 2)
    wrk(url, 8, 2, auth)
    wrk(url + "?qualifier=canary", 8, 2, auth)
    alias_runs, latest_runs = [], []
    for _ in range(3):
        latest_runs.append(wrk(url, 8, each, auth)["rps"])
        alias_runs.append(wrk(url + "?qualifier=canary", 8, each, auth)["rps"])
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    print(f"Traffic split: {invocations} sync invocations through an alias with additionalVersionWeight 0.1 "
          f"(8 threads, {took:.1f} s)")
    print(f"  share of the additional version {share:.4f}   (target: 0.1 +- 0.015); answers from the wrong code: "
          f"{wrong}")
    print(f"  warm throughput, 8 connections: through the alias {statistics.median(alias_runs):7.0f} req/s   |   "
          f"LATEST {statistics.median(latest_runs):7.0f} req/s   |   "
          f"{statistics.median(alias_runs) / statistics.median(latest_runs) * 100:.0f}% "
          f"(3 alternated pairs of {each} s)")


def cold_starts(platform: Up, name: str) -> float:
    text = platform.http.get(platform.url + "/metrics").text
    found = re.findall(rf'^faas_cold_starts_total{{function="{name}",path="\w+"}} ([\d.e+]+)$', text, re.M)
    return sum(float(n) for n in found)


def _move_under_load(platform: Up, reserved: int, seconds: int) -> tuple[int, int, float, float]:
    """(requests, errors, cold starts after the move, seconds the move took) of one alias move under load."""
    name = f"bench-move-{reserved}"
    publish_two(platform, name, maxInstances=10)
    base = f"{platform.url}/v1/functions/{name}"
    platform.http.post(f"{base}/aliases", json={"aliasName": "prod", "versionId": "1"}).raise_for_status()
    if reserved:
        platform.http.put(f"{base}/provision-config?qualifier=prod", json={"target": reserved}).raise_for_status()
        wait_until(lambda: platform.http.get(f"{base}/provision-config?qualifier=prod").json()["current"] == reserved,
                   120, "the alias's reserved containers")
    else:  # version 1 warmed to as many containers as the load needs, as the reserved ones are
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: requests.post(f"{base}/invocations?qualifier=prod", timeout=60,
                                                  headers={"Authorization": f"Bearer {platform.token}"}),
                          range(64)))
    out = {}

    def load():
        out["requests"], out["errors"] = wrk_errors(f"{base}/invocations?qualifier=prod", 8, seconds,
                                                    {"Authorization": f"Bearer {platform.token}"})

    runner = threading.Thread(target=load)
    runner.start()
    time.sleep(seconds / 3)
    before = cold_starts(platform, name)
    t0 = time.perf_counter()
    platform.http.put(f"{base}/aliases/prod", json={"versionId": "2"}).raise_for_status()
    moved_in = time.perf_counter() - t0
    runner.join()
    cold = cold_starts(platform, name) - before
    platform.http.delete(base)
    return out["requests"], out["errors"], cold, moved_in


def bench_alias_move(platform: Up, seconds: int = 30) -> None:
    """Move an alias under load, with reserved containers on it and without (the baseline)."""
    results = {reserved: _move_under_load(platform, reserved, seconds) for reserved in (8, 0)}
    print(f"Alias move under load (8 connections, {seconds} s, wrk; the alias moves from version 1 to 2 at "
          f"{seconds // 3} s)")
    for reserved, label in ((8, "8 reserved on the alias"), (0, "baseline: no reserved")):
        done, errors, cold, moved_in = results[reserved]
        print(f"  {label:<24} {done:7d} requests, {errors} errors, {cold:.0f} cold starts after the move; "
              f"the move took {moved_in * 1000:.0f} ms   (target with reserved: 0 errors, 0 cold starts)")
