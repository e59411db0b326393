"""The control plane SIGKILLed under scripts/up: seconds until it answers again, and the calls that failed meanwhile."""

from __future__ import annotations

import os
import signal
import threading
import time

import requests

from launch import Up

from .common import deploy, wait_until


def bench_restart(platform: Up, rounds: int) -> None:
    """Seconds until scripts/up has a SIGKILLed faas-server answering again, and the share of sync calls (one
    after the other, each on a new connection) that failed in those windows."""
    deploy(platform, "bench-restart")
    url = f"{platform.url}/v1/functions/bench-restart/invocations"
    headers = {"Authorization": f"Bearer {platform.token}", "Connection": "close"}
    times, calls, failed, refused = [], 0, 0, 0
    for _ in range(rounds):
        pid = platform.child("faas.server")
        done = threading.Event()
        window = [0, 0, 0]

        def load(window=window, done=done):
            while not done.is_set():
                window[0] += 1
                try:
                    ok = requests.post(url, headers=headers, timeout=60).status_code == 200
                except requests.ConnectionError as exc:
                    ok, window[2] = False, window[2] + ("refused" in str(exc).lower())
                window[1] += not ok

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda pid=pid: platform.child("faas.server") not in (0, pid) and platform.healthy(), 120,
                   "faas-server to be back")
        times.append(time.perf_counter() - t0)
        time.sleep(0.5)
        done.set()
        thread.join(60)
        calls, failed, refused = calls + window[0], failed + window[1], refused + window[2]
        time.sleep(2)
    platform.http.delete(url.rsplit("/", 1)[0])
    print(f"faas-server killed (SIGKILL) under scripts/up: answering again after "
          f"{', '.join(f'{t:.2f}' for t in times)} s; sync calls on new connections in those windows: {failed} of "
          f"{calls} failed ({100 * failed / max(calls, 1):.1f}%; target <= 1%), {refused} refused")
