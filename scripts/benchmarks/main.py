"""Benchmarks of the platform, each beside a baseline measured in the same run.

cold     sync invocations of a no-op function that each need a new container: through a ready cell, and
         from the function's image (a function that cannot use cells), beside the bare baseline (docker
         create + start + first HTTP response of the same image, no platform in between); rounds alternate
         so that all three see the same machine noise.
deploy   creating a function with new code (a build) through the API, beside a bare `docker build` of the
         same code by the recipe before the control plane compiled byte code (a RUN step compiling /code).
cells    cold starts of a function with a ~50 MB dependency tree (numpy) through a cell beside its image;
         a burst (below) through cells beside the same burst from images; the memory of an idle cell.
layers   numpy (~70 MB) in a layer beside numpy in the function's image: cold starts through a cell, the
         placement time; builds and image sizes of 20 functions sharing the layer beside 20 carrying numpy.
runtimes cold and warm latency on python3.13 beside python3.11 (each through its cells), and of a
         custom.debian12 function (from its image) beside a Python function from its image.
warm     warm sync invocations through the REST API beside direct HTTP calls to the same container:
         p50/p99 at 1 connection, throughput at 16 connections (wrk, 10 s each); Debian's haproxy in front of
         the same container, the price of one proxy hop on this machine; and floor.py, aiohttp and the
         platform's container client with nothing else, the least a control plane on aiohttp costs here.
unpause  the latency of an invocation that finds its container paused, beside a warm one.
burst    30 concurrent invocations of a cold function (maxInstances 10): time until all have answered,
         with the cells the platform keeps ready beside the same burst from images.
async    events/s accepted by the API (wrk); events/s completed end to end by the default 2 workers, beside
         RQ's stock forking Worker (2 processes, one job per event) on the same events; and a loss check:
         2,000 events with a worker process killed twice.
logs     Redis memory per no-op and per printing invocation, and all logs' memory after them, beside the cap.
zipbomb  warm p99 while a 500 MB zip bomb is deployed, beside warm p99 alone; the control plane's RSS.
restart  seconds until scripts/up has a SIGKILLed faas-server answering again.
http     warm requests through an HTTP trigger beside the invoke API on the same function and container:
         p50 at 1 connection, throughput at 16 connections (wrk), runs alternated.
timer    firing delay (the handler's start minus the scheduled time) over 60 firings of `@every 1s`, beside
         the delay from acceptance to start of 60 async invocations of the same function.
queue    messages/s end to end through a queue trigger (batch 1 and 10: from the trigger's creation on a
         preloaded queue until every message is acknowledged), beside async invocations of the same function.
split    10,000 invocations through an alias that sends 0.1 to a second version: the share that version got;
         and warm throughput through the alias beside LATEST (wrk, 8 connections, alternated).
move     an alias moved to another version under load (8 connections, 30 s, wrk): errors and cold starts
         after the move with reserved instances on the alias, beside the same move without them.
cluster  past one host (tests/cluster's hosts in network namespaces, each with its own dockerd and faas-node):
         warm p50 at 1 connection and throughput at 16 (wrk) and cold-start p50 (a config change, then one
         call) through 1 front end + 1 node and through 2 front ends + 3 nodes, beside scripts/up's single
         process on the same function.
idlequeues Redis commands/s and the control plane's CPU with 500 queue triggers waiting on empty queues,
         beside one, and messages/s of one busy trigger among them (the cost of size, issue 30).
functions 2,000 functions beside one: memory per function (control plane, Redis), a page of the function
         list, a warm invocation's p50.
timers   1,000 timer triggers due in the same second of each minute: firing delay and the control plane's
         CPU, beside one timer firing each second.
versions a warm invocation's p50 (LATEST and an alias) on a function with 100 versions and 50 aliases, beside
         one with one of each.
keepalive the learned keep-alive policy live (not in the default run: 10 minutes): periodic, bursty and rare
         functions, each with the adaptive policy and the fixed one, called at the same times of a compressed
         trace: cold starts and idle memory of each. scripts/replay replays days of traces in simulated time.

Everything runs against the platform as `scripts/up` starts it (its Redis, workers and settings).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

from launch import Up

from .aliases import bench_alias_move, bench_split
from .async_events import bench_async
from .cells import bench_burst, bench_cells
from .cluster import bench_cluster
from .cold import bench_cold_start, bench_sandbox
from .deploy import bench_deploy
from .hostile import bench_hostile, bench_queue_flood, bench_zip_bomb
from .keepalive import bench_keepalive_live
from .lambda_image import bench_lambda_image
from .layers import bench_layers, bench_runtimes
from .logs import bench_logs
from .profile import profiled
from .restart import bench_restart
from .scale import bench_idle_queues, bench_many_functions, bench_many_timers, bench_many_versions
from .signed import bench_lambda, bench_signed
from .triggers import bench_http_trigger, bench_queue_trigger, bench_timer
from .warm import bench_unpause, bench_warm


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25, help="cold starts measured on each side (at least 20)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--keepalive-seconds", type=float, default=600,
                        help="length of the keepalive scenario's compressed trace")
    parser.add_argument("--only", default="cold,deploy,cells,layers,runtimes,warm,signed,lambda,lambdaimage,unpause,"
                        "burst,async,logs,zipbomb,restart,http,timer,queue,split,move,cluster,sandbox,hostile,"
                        "queueflood,idlequeues,functions,timers,versions",
                        help="comma-separated benchmarks to run")
    parser.add_argument("--profile", metavar="SCENARIO",
                        help="sample the control plane and workers with py-spy while SCENARIO (one of --only's) runs: "
                             "flame graphs in var/profiles/, top frames printed")
    parser.add_argument("--idle-queues", type=int, default=500,
                        help="queue triggers waiting on empty queues in the idlequeues benchmark")
    parser.add_argument("--functions", type=int, default=2000, help="functions deployed in the functions benchmark")
    parser.add_argument("--timers", type=int, default=1000, help="timer triggers in the timers benchmark")
    parser.add_argument("--firings", type=int, default=60, help="timer firings measured (and async baseline events)")
    parser.add_argument("--messages", type=int, default=3000,
                        help="messages through a queue trigger with batch 1 (5 times as many with batch 10)")
    parser.add_argument("--split-invocations", type=int, default=10_000,
                        help="invocations through the weighted alias of the split benchmark")
    parser.add_argument("--log-invocations", type=int, default=100_000,
                        help="invocations of each function of the logs benchmark")
    return parser.parse_args()


def scenarios(args: argparse.Namespace, client: docker.DockerClient) -> dict[str, Callable[[Up], None]]:
    """The benchmarks by their --only names, each with its arguments, in the order they run."""
    return {
        "cold": lambda platform: bench_cold_start(platform, client, max(1, args.rounds)),
        "deploy": lambda platform: bench_deploy(platform, client, max(1, min(args.rounds, 20))),
        "warm": lambda platform: bench_warm(platform, client, args.seconds),
        "signed": lambda platform: bench_signed(platform, args.seconds),
        "lambda": lambda platform: bench_lambda(platform, args.seconds),
        "lambdaimage": lambda platform: bench_lambda_image(platform, client, max(1, min(args.rounds, 20))),
        "unpause": lambda platform: bench_unpause(platform, 10),
        "cells": lambda platform: bench_cells(platform, client, max(1, min(args.rounds, 15))),
        "layers": lambda platform: bench_layers(platform, client, max(1, min(args.rounds, 30))),
        "runtimes": lambda platform: bench_runtimes(platform, max(1, min(args.rounds, 15))),
        "burst": bench_burst,
        "async": lambda platform: bench_async(platform, args.seconds),
        "logs": lambda platform: bench_logs(platform, args.log_invocations),
        "zipbomb": lambda platform: bench_zip_bomb(platform, args.seconds),
        "http": lambda platform: bench_http_trigger(platform, args.seconds),
        "timer": lambda platform: bench_timer(platform, args.firings),
        "queue": lambda platform: bench_queue_trigger(platform, args.messages),
        "split": lambda platform: bench_split(platform, args.split_invocations, args.seconds),
        "move": bench_alias_move,
        "cluster": lambda platform: bench_cluster(platform, args.seconds, max(5, min(args.rounds, 15))),
        "hostile": lambda platform: bench_hostile(platform, client, args.seconds),
        "queueflood": lambda platform: bench_queue_flood(platform, 1600),
        "sandbox": lambda platform: bench_sandbox(platform, max(5, min(args.rounds, 15))),
        "restart": lambda platform: bench_restart(platform, 3),
        "idlequeues": lambda platform: bench_idle_queues(platform, args.idle_queues, args.seconds),
        "functions": lambda platform: bench_many_functions(platform, args.functions),
        "timers": lambda platform: bench_many_timers(platform, args.timers),
        "versions": lambda platform: bench_many_versions(platform, 100, 50),
        "keepalive": lambda platform: bench_keepalive_live(platform, args.keepalive_seconds),
    }


def main() -> int:
    args = parse_args()
    only = set(args.only.split(","))
    runs = scenarios(args, docker.from_env())
    with tempfile.TemporaryDirectory(prefix="faas-bench-") as tmp:
        platform = Up(Path(tmp) / "var", "bench" + uuid.uuid4().hex[:6])
        try:
            platform.start(timeout=300)
            for name, run in runs.items():
                if name in only:
                    with profiled(platform, name) if name == args.profile else contextlib.nullcontext():
                        run(platform)
        finally:
            platform.stop(timeout=180)
    return 0
