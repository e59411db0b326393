"""Layers and runtimes: cold starts through a cell with numpy in a layer beside numpy in the function's image; builds
and image sizes of 20 functions sharing that layer beside 20 carrying numpy; python3.13 beside python3.11; a
custom.debian12 function beside a Python one."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import docker

from launch import Up

from .cells import cells_root, placement_costs
from .common import NOOP, cold_invoke, deploy, row, zip_files

NUMPY = ("import numpy\n"
         "def handler(event, context):\n"
         "    return str(numpy.arange(3).sum())\n")
SERVER = ("import os\n"
          "from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\n"
          "class H(BaseHTTPRequestHandler):\n"
          "    protocol_version = 'HTTP/1.1'\n"
          "    def do_POST(self):\n"
          "        self.rfile.read(int(self.headers.get('Content-Length') or 0))\n"
          "        self.send_response(200)\n"
          "        self.send_header('Content-Length', '0')\n"
          "        self.end_headers()\n"
          "    def log_message(self, *args):\n"
          "        pass\n"
          "ThreadingHTTPServer(('0.0.0.0', int(os.environ['FC_SERVER_PORT'])), H).serve_forever()\n")


def numpy_layer_zip() -> tuple[str, int]:
    """(base64 zip of python/numpy..., its unzipped MB): numpy installed for Python 3.11 by this venv's pip."""
    with tempfile.TemporaryDirectory(prefix="bench-numpy-") as tmp:
        target = Path(tmp) / "python"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-compile", "--target", str(target), "numpy"], check=True)
        buf = io.BytesIO()
        size = 0
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                info = zipfile.ZipInfo(path.relative_to(tmp).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = path.read_bytes()
                size += len(data)
                zf.writestr(info, data)
        return base64.b64encode(buf.getvalue()).decode(), size >> 20


def _create(platform: Up, body: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    resp = platform.http.post(platform.url + "/v1/functions", json=body, timeout=1800)
    if resp.status_code != 201:
        raise SystemExit(f"bench: deploy of {body['name']} failed: {resp.text[-2000:]}")
    return resp.json(), time.perf_counter() - t0


def _unique_mb(client: docker.DockerClient, images: list[str]) -> tuple[float, float]:
    """(MB each image is, as `docker images` says; MB the images hold that no other image shares, in all)."""
    wanted = {client.images.get(i).id for i in images}
    found = [i for i in client.df()["Images"] if i["Id"] in wanted]
    each = sum(i["Size"] for i in found) / len(found) / 2**20
    unique = sum(i["Size"] - max(i["SharedSize"], 0) for i in found) / 2**20
    return each, unique


def bench_layers(platform: Up, client: docker.DockerClient, rounds: int, functions: int = 20) -> None:
    http, url = platform.http, platform.url
    encoded, layer_mb = numpy_layer_zip()
    t0 = time.perf_counter()
    resp = http.post(f"{url}/v1/layers/bench-numpy/versions", timeout=1800,
                     json={"code": {"zipFile": encoded}, "compatibleRuntimes": ["python3.11"]})
    if resp.status_code != 201:
        raise SystemExit(f"bench: publishing the numpy layer failed: {resp.text[-2000:]}")
    published = time.perf_counter() - t0
    layer = resp.json()

    # 1. cold starts through a cell: numpy in a layer beside numpy in the function's image
    _create(platform, {"name": "bench-layer", "code": {"zipFile": zip_files({"index.py": NUMPY})},
                       "layers": [layer["ref"]]})
    _create(platform, {"name": "bench-inimage", "code": {"zipFile": zip_files({"index.py": NUMPY,
                                                                             "requirements.txt": "numpy\n"})}})
    by_layer, in_image = [], []
    for i in range(rounds):
        in_image.append(cold_invoke(platform, "bench-inimage", i, "cell"))
        by_layer.append(cold_invoke(platform, "bench-layer", i, "cell"))
    view, _ = placement_costs(platform, cells_root(platform) / "layers" / "images" /
                              client.images.get(layer["image"]).id.split(":")[-1][:40] / "opt")
    print(f"Layers: numpy ({layer_mb} MB unzipped) published as a layer in {published:.1f} s (its .py compiled "
          f"in the build); cold starts through a cell, {rounds} rounds each, alternating")
    print(row("numpy inside the function's image", in_image) + "   (baseline)")
    print(row("numpy in a layer at /opt", by_layer) + "   (target: no slower)")
    print(row("placing the layer: propagated mount", view))

    # 2. builds and image sizes: N functions sharing the layer beside N carrying numpy
    def build(kind: str, i: int) -> tuple[str, float]:
        files = {"index.py": NUMPY + f"# {kind} {i}\n"}
        body: dict = {"name": f"bench-{kind}-{i}", "code": {"zipFile": zip_files(files)}}
        if kind == "shared":
            body["layers"] = [layer["ref"]]
        elif kind == "carry":
            files["requirements.txt"] = "numpy\n"
            body["code"] = {"zipFile": zip_files(files)}
        else:  # each its own requirements (one more line): no build shares another's pip step
            files["requirements.txt"] = f"numpy\n# {i}\n"
            body["code"] = {"zipFile": zip_files(files)}
        made, seconds = _create(platform, body)
        return made["image"], seconds

    results = {}
    for kind, count in (("shared", functions), ("carry", functions), ("own", max(3, functions // 4))):
        built = [build(kind, i) for i in range(count)]
        results[kind] = (count, [s for _, s in built], *_unique_mb(client, [img for img, _ in built]))
    print(f"Builds: {functions} functions importing numpy, each its own code")
    labels = {"shared": "sharing the numpy layer", "carry": "numpy in requirements.txt, the same file",
              "own": "numpy in requirements.txt, each its own"}
    for kind, (count, seconds, each, unique) in results.items():
        print(f"  {labels[kind]:<44} {count:3d} builds, p50 {sorted(seconds)[len(seconds) // 2]:6.2f} s, "
              f"{sum(seconds):7.1f} s in all; image {each:6.1f} MB; {unique:8.2f} MB on disk that no other image "
              "shares" + ("   (the layer's files: once per host)" if kind == "shared" else ""))
    for kind, (count, *_) in results.items():
        for i in range(count):
            http.delete(f"{url}/v1/functions/bench-{kind}-{i}")
    for name in ("bench-layer", "bench-inimage"):
        http.delete(f"{url}/v1/functions/{name}")
    http.delete(f"{url}/v1/layers/bench-numpy/versions/{layer['version']}")


def _warm(platform: Up, name: str, count: int = 300) -> list[float]:
    url = f"{platform.url}/v1/functions/{name}/invocations"
    platform.http.post(url, data=b"").raise_for_status()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        resp = platform.http.post(url, data=b"")
        times.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise SystemExit(f"bench: a warm call of {name} failed: {resp.status_code} {resp.text[:300]}")
    return times


def bench_runtimes(platform: Up, rounds: int) -> None:
    """Cold and warm latency on python3.13 beside python3.11 (each through its own cells), and of a custom.debian12
    function (from its image: a cell runs the Python runtime) beside a Python function from its image."""
    deploy(platform, "bench-py311", NOOP, runtime="python3.11")
    deploy(platform, "bench-py313", NOOP, runtime="python3.13")
    resp = platform.http.post(platform.url + "/v1/functions", json={
        "name": "bench-custom", "runtime": "custom.debian12",
        "customRuntimeConfig": {"command": ["python3", "/code/server.py"]},
        "code": {"zipFile": zip_files({"server.py": SERVER})}})
    if resp.status_code != 201:
        raise SystemExit(f"bench: deploy of bench-custom failed: {resp.text}")
    # its first cold start (from its image) asks for python3.13 cells: a class with no demand keeps none
    platform.http.post(f"{platform.url}/v1/functions/bench-py313/invocations", data=b"").raise_for_status()
    cold: dict[str, list[float]] = {k: [] for k in ("311", "313", "311-image", "custom")}
    for i in range(rounds):
        cold["311"].append(cold_invoke(platform, "bench-py311", i, "cell"))
        cold["313"].append(cold_invoke(platform, "bench-py313", i, "cell", runtime="python3.13"))
        cold["311-image"].append(cold_invoke(platform, "bench-py311", i, "image"))
        cold["custom"].append(cold_invoke(platform, "bench-custom", i, "image"))
    warm = {name: _warm(platform, name) for name in ("bench-py311", "bench-py313", "bench-custom")}
    print(f"Runtimes: cold starts ({rounds} rounds each, alternating) and 300 sequential warm calls")
    print(row("python3.11 cold, through a cell", cold["311"]) + "   (baseline)")
    print(row("python3.13 cold, through a cell", cold["313"]))
    print(row("python3.11 warm", warm["bench-py311"]) + "   (baseline)")
    print(row("python3.13 warm", warm["bench-py313"]))
    print(row("python3.11 cold, from its image", cold["311-image"]) + "   (baseline)")
    print(row("custom.debian12 cold, from its image", cold["custom"]) + "   (python3 http.server)")
    print(row("custom.debian12 warm", warm["bench-custom"]) + "   (beside python3.11 warm above)")
    for name in ("bench-py311", "bench-py313", "bench-custom"):
        platform.http.delete(f"{platform.url}/v1/functions/{name}")

