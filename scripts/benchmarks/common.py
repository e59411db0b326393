"""What the benchmarks share: figures and their rows, deploying, waiting, and cold invocations that must take a
given start path."""

from __future__ import annotations

import base64
import io
import os
import re
import statistics
import time
import zipfile
from pathlib import Path

from launch import Up

ROOT = Path(__file__).resolve().parents[2]
NOOP = "def handler(event, context):\n    return ''\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


def code_zip(source: str) -> str:
    return zip_files({"index.py": source})


def zip_files(files: dict[str, str]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return base64.b64encode(buf.getvalue()).decode()


IMAGE_PATH_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
"""An environment that keeps a function off cells (a PYTHON* variable acts when the interpreter starts) and
changes nothing else: the runtime image sets this one already. Its cold starts take the image path."""


def ready_cells(platform: Up, memory_mb: int = 128, runtime: str = "python3.11", state: str = "ready") -> int:
    text = platform.http.get(platform.url + "/metrics").text
    found = re.search(rf'^faas_cells{{memory_mb="{memory_mb}",runtime="{runtime}",state="{state}"}} (\S+)$', text,
                      re.M)
    return int(float(found.group(1))) if found else 0


def cells_at_rest(platform: Up) -> bool:
    """No cell is starting (a start takes the cores a measured cold start would use)."""
    text = platform.http.get(platform.url + "/metrics").text
    return not any(float(v) for v in re.findall(r'^faas_cells{[^}]*state="starting"} (\S+)$', text, re.M))


def start_path(platform: Up, name: str, instance_id: str) -> str:
    listed = platform.http.get(f"{platform.url}/v1/functions/{name}/instances").json()["instances"]
    return next((i["startPath"] for i in listed if i["instanceId"] == instance_id), "?")


def cold_invoke(platform: Up, name: str, round_no: int, path: str, memory_mb: int = 128,
                runtime: str = "python3.11") -> float:
    """Seconds of one cold sync invocation of `name` (a config change first makes its containers old), which
    must take `path` (a ready cell is waited for first when it is `cell`)."""
    http, url = platform.http, platform.url
    env = {"ROUND": str(round_no)} | (IMAGE_PATH_ENV if path == "image" else {})
    http.put(f"{url}/v1/functions/{name}", json={"environment": env}).raise_for_status()
    time.sleep(0.3)  # let the old container's removal finish outside the measured window
    if path == "cell":
        wait_until(lambda: ready_cells(platform, memory_mb, runtime) >= 1, 60, "a ready cell")
    wait_until(lambda: cells_at_rest(platform), 60, "cells at rest")
    t0 = time.perf_counter()
    resp = http.post(f"{url}/v1/functions/{name}/invocations", data=b"")
    elapsed = time.perf_counter() - t0
    if resp.status_code != 200 or resp.headers.get("X-Fc-Cold-Start") != "true" or "X-Fc-Error-Type" in resp.headers:
        raise SystemExit(f"bench: invocation {round_no} of {name} was not a cold start: {resp.status_code} "
                         f"{resp.headers} {resp.text[:300]}")
    taken = start_path(platform, name, resp.headers["X-Fc-Instance-Id"])
    if taken != path:
        raise SystemExit(f"bench: invocation {round_no} of {name} took the {taken} path, not {path}")
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def row(label: str, values: list[float]) -> str:
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    return f"  {label:<34} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   mean {statistics.mean(values) * 1000:7.2f} ms"


def deploy(platform: Up, name: str, source: str = NOOP, **spec) -> dict:
    resp = platform.http.post(platform.url + "/v1/functions",
                              json={"name": name, "code": {"zipFile": code_zip(source)}, **spec})
    if resp.status_code != 201:
        raise SystemExit(f"bench: deploy of {name} failed: {resp.text}")
    return resp.json()
