"""What a careless or hostile user can throw at the platform, beside the calm: a zip bomb deployed, a container's
broken replies, a flood of large messages to a slow queue."""

from __future__ import annotations

import base64
import io
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import requests

from launch import Up

from .common import NOOP, ROOT, deploy, rss_kb, wait_until
from .wrk import wrk


def bench_zip_bomb(platform: Up, seconds: int) -> None:
    """Warm latency at 1 connection while a 500 MB zip bomb is deployed, beside the same without it."""
    name = "bench-zb-warm"
    deploy(platform, name)
    url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(url).raise_for_status()
    auth = {"Authorization": f"Bearer {platform.token}"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.py", NOOP)
        with zf.open("zeros.bin", "w", force_zip64=True) as out:
            for _ in range(500):
                out.write(b"\0" * (1 << 20))
    bomb = base64.b64encode(buf.getvalue()).decode()
    server = platform.child("faas.server")

    def rss_mb() -> float:
        status = Path(f"/proc/{server}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024

    normal = wrk(url, 1, seconds, auth)
    rss_before, peak = rss_mb(), 0.0
    with ThreadPoolExecutor(2) as pool:
        creating = pool.submit(platform.http.post, platform.url + "/v1/functions",
                               json={"name": "bench-zb", "code": {"zipFile": bomb}})
        measuring = pool.submit(wrk, url, 1, seconds, auth)
        while not (creating.done() and measuring.done()):
            peak = max(peak, rss_mb())
            time.sleep(0.05)
    status = creating.result().status_code
    during = measuring.result()
    platform.http.delete(f"{platform.url}/v1/functions/bench-zb")
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    print(f"A zip bomb ({len(buf.getvalue()) // 1024} KB zip, 500 MB unzipped) deployed while warm invocations run "
          f"(wrk, 1 connection, {seconds} s)")
    print(f"  warm p99 alone {normal['p99'] * 1000:6.2f} ms   |   during the deploy {during['p99'] * 1000:6.2f} ms "
          f"(+{(during['p99'] - normal['p99']) * 1000:.2f} ms; target: within 50 ms)   |   deploy answered {status}")
    print(f"  control plane RSS {rss_before:.0f} MB before, at most {peak:.0f} MB during")


def bench_hostile(platform: Up, client: docker.DockerClient, seconds: int) -> None:
    """Another function's warm p99 (wrk, 1 connection) and the control plane's peak RSS while a custom container
    answers with broken replies over and over, beside the same function's p99 alone."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]
    from test_hostile_replies import LIAR

    from helpers import build_server_image

    tag = build_server_image(client, f"faas-bench-liar-{platform.platform_id}:1", LIAR)
    platform.http.post(platform.url + "/v1/functions", json={
        "name": "bench-liar", "runtime": "custom-container", "customContainer": {"image": tag},
        "timeoutSeconds": 3}).raise_for_status()
    platform.http.post(f"{platform.url}/v1/functions/bench-liar/triggers",
                       json={"triggerName": "web", "triggerType": "http",
                             "triggerConfig": {"authType": "anonymous"}}).raise_for_status()
    deploy(platform, "bench-bystander")
    url = f"{platform.url}/v1/functions/bench-bystander/invocations"
    auth = {"Authorization": f"Bearer {platform.token}"}
    platform.http.post(url).raise_for_status()
    server = platform.child("faas.server")
    alone = wrk(url, 1, seconds, auth)
    print(f"Broken replies of a custom container, each repeated for {seconds} s beside another function's warm "
          f"calls (wrk, 1 connection); that function's p99 alone {alone['p99'] * 1000:.2f} ms")
    for path, case in (("invoke", "chunk-flood"), ("invoke", "chunk-line"), ("invoke", "negative-length"),
                       ("invoke", "status-999"), ("web", "chunk-flood"), ("web", "chunk-line")):
        stop, peak, calls = time.monotonic() + seconds, [rss_kb(server)], [0]

        def hostile(path=path, case=case, stop=stop, calls=calls):
            http = requests.Session()
            while time.monotonic() < stop:
                if path == "invoke":
                    http.post(f"{platform.url}/v1/functions/bench-liar/invocations", data=case, headers=auth)
                else:
                    try:
                        with http.get(f"{platform.url}/function/bench-liar/{case}", stream=True, timeout=30) as r:
                            for _ in r.iter_content(1 << 16):
                                pass
                    except requests.RequestException:
                        pass  # a flood cut by the function's timeout
                calls[0] += 1

        with ThreadPoolExecutor(2) as pool:
            attack = pool.submit(hostile)
            measuring = pool.submit(wrk, url, 1, seconds, auth)
            while not (attack.done() and measuring.done()):
                peak.append(rss_kb(server))
                time.sleep(0.05)
        attack.result()
        during = measuring.result()
        print(f"  {path:6} {case:16} {calls[0]:4} calls   bystander p99 {during['p99'] * 1000:7.2f} ms   "
              f"control plane RSS at most {max(peak) / 1024:5.0f} MB (+{(max(peak) - peak[0]) / 1024:.0f})")
    for name in ("bench-liar", "bench-bystander"):
        platform.http.delete(f"{platform.url}/v1/functions/{name}")
    client.images.remove(tag, force=True)


def bench_queue_flood(platform: Up, messages: int) -> None:
    """`messages` of 256 KB published to a queue whose trigger's function is slow: how many were accepted and
    refused (a full queue), Redis's memory at its peak and once the trigger took everything, beside before."""
    conn = platform.redis()
    used = lambda: conn.info("memory")["used_memory"] / 2 ** 20  # noqa: E731
    deploy(platform, "bench-slow-consumer", "import time\ndef handler(event, context):\n    time.sleep(0.05)\n"
           "    return ''\n")
    platform.http.post(f"{platform.url}/v1/functions/bench-slow-consumer/triggers",
                       json={"triggerName": "q", "triggerType": "queue",
                             "triggerConfig": {"queueName": "bench-flood", "batchSize": 10}}).raise_for_status()
    before, peak, accepted, refused = used(), 0.0, 0, 0
    body = "x" * (256 * 1024 - 1)
    for _ in range(messages):
        resp = platform.http.post(f"{platform.url}/v1/queues/bench-flood/messages", data=body)
        accepted += resp.status_code == 201
        refused += resp.status_code == 429
        peak = max(peak, used())

    def drained() -> bool:
        got = platform.http.get(f"{platform.url}/v1/functions/bench-slow-consumer/triggers/q").json()
        return got["backlog"] == {"pending": 0, "lag": 0}

    wait_until(drained, 600, "the queue drained")
    time.sleep(2)
    after = used()
    platform.http.delete(f"{platform.url}/v1/functions/bench-slow-consumer")
    print(f"Queue flood: {messages} messages of 256 KB to a queue with a slow trigger: {accepted} accepted, "
          f"{refused} refused (429: the queue was full)")
    print(f"  Redis used memory {before:.1f} MB before, at most {peak:.1f} MB during, {after:.1f} MB once the "
          f"trigger took everything (limits: FAAS_QUEUE_MAX_MB 64 per queue, Redis maxmemory 2048)")
