"""The learned keep-alive policy live: the real pool driven by a compressed trace of a few functions (periodic,
bursty, rare), each deployed twice, with the adaptive policy and with the fixed one, and called at the same
times. Cold starts per function from the answers; idle memory per function from /instances, sampled every
second (memoryMB of its Ready containers with no call under way)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from launch import Up

from .common import deploy

COMPRESSION = 10
"""Trace seconds per real second: the fixed policy keeps 10 minutes as 60 s."""
FIXED_S = 600 // COMPRESSION


def schedule(seconds: float, seed: int = 7) -> dict[str, list[float]]:
    """Arrival times (seconds from the start) of each kind of function."""
    rng = random.Random(seed)
    periodic = [t + rng.uniform(0, 0.5) for t in range(5, int(seconds), 45)]  # a timer every 7.5 minutes
    bursty, t = [], 5.0
    while t < seconds:  # bursts of 5 calls a second apart, 20 to 40 minutes between bursts
        bursty.extend(t + i for i in range(5))
        t += rng.uniform(120, 240)
    rare, t = [], rng.expovariate(1 / 150)
    while t < seconds:  # at random, one every 25 minutes on average
        rare.append(t)
        t += rng.expovariate(1 / 150)
    return {"periodic": periodic, "bursty": bursty, "rare": rare}


def bench_keepalive_live(platform: Up, seconds: float) -> None:
    plan = schedule(seconds)
    names = {(kind, policy): f"bench-ka-{kind}-{policy}" for kind in plan for policy in ("adaptive", "fixed")}
    for (_kind, policy), name in names.items():
        spec = {"keepAlivePolicy": "fixed", "keepAliveSeconds": FIXED_S} if policy == "fixed" else {}
        deploy(platform, name, **spec)
    cold = {key: [] for key in names}
    idle_mb_s = {key: 0.0 for key in names}
    done = threading.Event()

    def sample() -> None:
        last = time.monotonic()
        while not done.wait(1.0):
            now = time.monotonic()
            for key, name in names.items():
                listed = platform.http.get(f"{platform.url}/v1/functions/{name}/instances").json()["instances"]
                held = sum(i["memoryMB"] for i in listed if i["state"] == "Ready" and not i["activeInvocations"])
                idle_mb_s[key] += held * (now - last)
            last = now

    def call(key: tuple[str, str]) -> None:
        resp = platform.http.post(f"{platform.url}/v1/functions/{names[key]}/invocations")
        resp.raise_for_status()
        cold[key].append(resp.headers["X-Fc-Cold-Start"] == "true")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    events = sorted((t, kind) for kind, times in plan.items() for t in times)
    with ThreadPoolExecutor(16) as calls:
        for t, kind in events:
            time.sleep(max(0.0, start + t - time.monotonic()))
            for policy in ("adaptive", "fixed"):
                calls.submit(call, (kind, policy))
        time.sleep(max(0.0, start + seconds - time.monotonic()))
    done.set()
    sampler.join()
    metrics = platform.http.get(f"{platform.url}/metrics").text
    print(f"Keep-alive policies live: a {seconds:.0f} s trace compressed {COMPRESSION}x (fixed = {FIXED_S} s, "
          "10 trace minutes), the same calls to each pair; idle memory sampled every second")
    totals = {"adaptive": [0, 0, 0.0], "fixed": [0, 0, 0.0]}
    for kind in plan:
        for policy in ("adaptive", "fixed"):
            got = cold[(kind, policy)]
            print(f"  {kind:<9} {policy:<9} calls {len(got):4d}   cold starts {sum(got):4d}   idle memory "
                  f"{idle_mb_s[(kind, policy)] / 1024:8.1f} GB-s")
            totals[policy][0] += len(got)
            totals[policy][1] += sum(got)
            totals[policy][2] += idle_mb_s[(kind, policy)]
    for policy, (calls_made, colds, mb_s) in totals.items():
        print(f"  all       {policy:<9} calls {calls_made:4d}   cold starts {colds:4d}   idle memory "
              f"{mb_s / 1024:8.1f} GB-s")
    def prewarms(outcome: str) -> float:
        """faas_prewarms_total of this benchmark's functions with `outcome`."""
        return sum(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("faas_prewarms_total") and f'outcome="{outcome}"' in line and "bench-ka-" in line)

    print(f"  pre-warms: {prewarms('served'):.0f} served a call, {prewarms('unused'):.0f} went unused")
    for name in names.values():
        platform.http.delete(f"{platform.url}/v1/functions/{name}")
