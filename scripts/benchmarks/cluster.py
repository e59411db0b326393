"""Past one host: warm and cold invocations through front ends and nodes of tests/cluster's hosts beside
scripts/up's single process."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from launch import Up

from .common import ROOT, cpu_seconds, deploy
from .wrk import wrk


class Endpoint:
    """A front end of a cluster, shaped like Up for deploy() and the helpers below."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"


def _cold_rounds(target, name: str, rounds: int) -> list[float]:
    """Seconds of cold sync invocations of `name`, each after a config change made its container old."""
    times = []
    for n in range(rounds):
        target.http.put(f"{target.url}/v1/functions/{name}", json={"environment": {"ROUND": str(n)}}
                        ).raise_for_status()
        time.sleep(0.5)  # the old container's removal and a cell's refill, outside the measured window
        t0 = time.perf_counter()
        resp = target.http.post(f"{target.url}/v1/functions/{name}/invocations", data=b"")
        times.append(time.perf_counter() - t0)
        if resp.status_code != 200 or resp.headers.get("X-Fc-Cold-Start") != "true":
            raise SystemExit(f"bench: round {n} of {name} was not a cold start: {resp.status_code} {resp.text[:200]}")
    return times


def _warm_figures(fronts: list, name: str, seconds: int, parts: dict[str, list[int]]) -> tuple[dict, float, dict]:
    """wrk at 1 connection through the first front end; then 16 connections shared by all of them at once, with
    the CPU each of `parts` (its processes) used per call meanwhile, in microseconds."""
    urls = [f"{f.url}/v1/functions/{name}/invocations" for f in fronts]
    auth = {"Authorization": f"Bearer {fronts[0].token}"}
    for url in urls:
        wrk(url, 1, 2, auth)  # warm-up
    one = wrk(urls[0], 1, seconds, auth)
    before = {part: sum(map(cpu_seconds, pids)) for part, pids in parts.items()}
    with ThreadPoolExecutor(len(urls)) as pool:
        runs = list(pool.map(lambda url: wrk(url, 16 // len(urls), seconds, auth), urls))
    rps = sum(r["rps"] for r in runs)
    calls = rps * seconds
    cpu = {part: (sum(map(cpu_seconds, pids)) - before[part]) / calls * 1e6 for part, pids in parts.items()}
    return one, rps, cpu


def bench_cluster(platform: Up, seconds: int, rounds: int) -> None:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "cluster")]
    from cluster_hosts import Cluster

    rows = []
    name = "bench-route"
    deploy(platform, name, instanceConcurrency=16, maxInstances=1)
    local_parts = {"control plane": [platform.child("faas.server")]}
    rows.append(("scripts/up (one process, one host)", *_warm_figures([platform], name, seconds, local_parts),
                 _cold_rounds(platform, name, rounds)))
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    with tempfile.TemporaryDirectory(prefix="faas-bench-cluster-") as logs:
        for label, hosts, fronts in (("1 front end + 1 node", 1, 1), ("2 front ends + 3 nodes", 3, 2)):
            cluster = Cluster(hosts=hosts, frontends=fronts, workers=0, log_dir=Path(logs) / label[0]).start()
            try:
                ends = [Endpoint(cluster.api(i).base, cluster.token) for i in range(fronts)]
                deploy(ends[0], name, instanceConcurrency=16, maxInstances=1)
                ends[0].http.post(f"{ends[0].url}/v1/functions/{name}/invocations").raise_for_status()
                parts = {"front ends": [p.pid for p in cluster.frontends],
                         "nodes": [h.node.pid for h in cluster.hosts if h.node is not None]}
                rows.append((label, *_warm_figures(ends, name, seconds, parts), _cold_rounds(ends[0], name, rounds)))
            finally:
                cluster.stop()
    us = 1e6
    print(f"Past one host: warm no-op invocations (wrk, {seconds} s; 16 connections shared by the front ends), "
          f"and cold starts (a config change, then one call; {rounds} rounds, through a ready cell)")
    for label, one, rps, cpu, cold in rows:
        print(f"  {label:<36} p50 {one['p50'] * us:6.0f} us  p99 {one['p99'] * us:6.0f} us   16 connections "
              f"{rps:7.0f} req/s   cold p50 {statistics.median(cold) * 1000:6.1f} ms")
        print(f"  {'':<36} CPU per call at 16 connections: "
              + ", ".join(f"{part} {micros:.0f} us" for part, micros in cpu.items()))
    (_, local, local_rps, _, local_cold), (_, single, single_rps, _, _), (_, many, many_rps, _, many_cold) = rows
    print(f"  routing over 3 nodes and 2 front ends beside 1 + 1: p50 {(many['p50'] / single['p50'] - 1) * 100:+.0f}% "
          f"(target: <= +20%), throughput {(many_rps / single_rps - 1) * 100:+.0f}%")
    print(f"  a front end and a node beside one process: p50 {(single['p50'] / local['p50'] - 1) * 100:+.0f}%, "
          f"throughput {(single_rps / local_rps - 1) * 100:+.0f}%, cold p50 through a front end to a remote node "
          f"{statistics.median(many_cold) * 1000:.1f} ms beside {statistics.median(local_cold) * 1000:.1f} ms local")
