"""Cells: cold starts of a function with a large dependency tree through a cell beside its image, the cost of placing
the tree, an idle cell's memory; and a burst of cold invocations with cells ready beside one from images."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import requests

from launch import Up

from .common import IMAGE_PATH_ENV, ROOT, cold_invoke, deploy, ready_cells, row, rss_kb, wait_until, zip_files

DEPS_SOURCE = ("import numpy\n"
               "def handler(event, context):\n"
               "    return str(numpy.arange(3).sum())\n")
LAZY_SOURCE = ("def handler(event, context):\n"
               "    return 'numpy is there, imported when needed'\n")
DEPS_FILES = {"index.py": DEPS_SOURCE, "lazy.py": LAZY_SOURCE, "requirements.txt": "numpy\n"}


def cells_root(platform: Up) -> Path:
    """The platform's directory of cells' files (its unpacked code under code/, its layers under layers/)."""
    return Path(os.environ.get("FAAS_CELLS_DIR") or "/var/lib/faas/cells") / platform.platform_id


def placement_costs(platform: Up, source: Path, runs: int = 5) -> tuple[list[float], list[float]]:
    """Seconds to place a tree of files the platform unpacked (`source`) into a cell's directory: by a propagated
    mount (bind, read-only remount, move) and by hard links."""
    sys.path.insert(0, str(ROOT / "platform"))
    from faas.cells import files, mounts

    root = cells_root(platform)
    scratch = Path(tempfile.mkdtemp(prefix=".bench-", dir=root))
    slots, staging = scratch / "slots", scratch / "staging"
    by_mount, by_links = [], []
    try:
        for path in (slots, staging):
            path.mkdir()
        mounts.bind_self(slots, mounts.MS_SHARED)
        mounts.bind_self(staging, mounts.MS_PRIVATE)
        for i in range(runs):
            target, point = slots / f"m{i}", staging / f"m{i}"
            target.mkdir()
            point.mkdir()
            t0 = time.perf_counter()
            mounts.place(source, point, target)
            by_mount.append(time.perf_counter() - t0)
            mounts.unmount_all(target)
            linked = scratch / f"l{i}"
            linked.mkdir()
            t0 = time.perf_counter()
            files.link_tree(source, linked)
            by_links.append(time.perf_counter() - t0)
    finally:
        for path in (slots, staging):
            mounts.unmount_all(path)
        files.clear_tree(scratch)
    return by_mount, by_links


def bench_cells(platform: Up, client: docker.DockerClient, rounds: int) -> None:
    """Cold starts of a function with a large dependency tree, and an idle cell's memory."""
    http, url = platform.http, platform.url
    names = ("bench-deps", "bench-deps-image", "bench-deps-lazy")
    for name in names:  # one image: the same code and requirements
        resp = http.post(url + "/v1/functions", json={
            "name": name, "code": {"zipFile": zip_files(DEPS_FILES)},
            "handler": "lazy.handler" if name.endswith("lazy") else "index.handler",
            "environment": IMAGE_PATH_ENV if name.endswith("image") else {}}, timeout=900)
        if resp.status_code != 201:
            raise SystemExit(f"bench: deploy of {name} failed: {resp.text[-2000:]}")
    image = http.get(f"{url}/v1/functions/bench-deps").json()["image"]
    by_mount, by_links = placement_costs(platform, cells_root(platform) / "code" /
                                         client.images.get(image).id.split(":")[-1][:40] / "deps")
    size = client.containers.run(image, ["du", "-sm", "/var/fc/deps"], remove=True, user="10001:10001",
                                 entrypoint=[]).decode().split()[0]
    probe = ("import time\nt = time.perf_counter()\nimport numpy\n"
             "print((time.perf_counter() - t) * 1000)")
    imports = [float(client.containers.run(image, ["python3", "-c", probe], remove=True, user="10001:10001",
                                           read_only=True).decode()) / 1000 for _ in range(5)]
    cell, from_image, lazy = [], [], []
    for i in range(rounds):
        from_image.append(cold_invoke(platform, "bench-deps-image", i, "image"))
        cell.append(cold_invoke(platform, "bench-deps", i, "cell"))
        lazy.append(cold_invoke(platform, "bench-deps-lazy", i, "cell"))
    for name in names:
        http.delete(f"{url}/v1/functions/{name}")
    print(f"Cold start of a function with {size} MB of dependencies (numpy, imported by the handler's module), "
          f"{rounds} rounds each, alternating")
    print(row("platform: cold, from the image", from_image))
    print(row("platform: cold, through a cell", cell) + "   (target: p50 <= 80 ms)")
    print(row("`import numpy` alone, in its image", imports) + "   (5 runs of python3 -c)")
    print(row("platform: cold, cell, numpy not imported", lazy) + "   (the same files; a handler module without it)")
    print(row("placing the tree: propagated mount", by_mount))
    print(row("placing the tree: hard links", by_links))

    wait_until(lambda: ready_cells(platform) >= 1, 60, "a ready cell")
    (cell_container, *_) = client.containers.list(filters={"label": [f"faas.platform={platform.platform_id}",
                                                                    "faas.role=cell"]})
    stats = client.api.stats(cell_container.id, stream=False)
    cgroup_mb = stats["memory_stats"]["usage"] / 2**20
    pid = cell_container.attrs["State"]["Pid"]
    shim = int(Path(f"/proc/{pid}/status").read_text().split("PPid:")[1].split()[0])
    rss = sum(rss_kb(p) for p in (pid, shim)) / 1024
    print(f"Idle cell: {cgroup_mb:.1f} MiB in its cgroup; {rss:.1f} MiB resident on the host (runtime + its "
          "containerd shim)")


def bench_burst(platform: Up) -> None:
    for path in ("image", "cell"):
        _burst(platform, path)


def _burst(platform: Up, path: str) -> None:
    """The burst on a function that takes the image path (its environment keeps it off cells), or on one that
    may take cells (after the pool is back to its size at rest)."""
    name = f"bench-burst-{path}"
    deploy(platform, name, "import time\ndef handler(event, context):\n    time.sleep(0.1)\n    return ''\n",
           maxInstances=10, environment=IMAGE_PATH_ENV if path == "image" else {})
    if path == "cell":
        wait_until(lambda: ready_cells(platform) >= 1, 60, "ready cells")
        time.sleep(2)
        ready = ready_cells(platform)
    url = f"{platform.url}/v1/functions/{name}/invocations"

    def one(_):
        t0 = time.perf_counter()
        resp = requests.post(url, timeout=120, headers={"Authorization": f"Bearer {platform.token}"})
        return resp.status_code, resp.headers.get("X-Fc-Instance-Id"), time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(one, range(30)))
    total = time.perf_counter() - t0
    listed = platform.http.get(f"{platform.url}/v1/functions/{name}/instances").json()["instances"]
    paths = {p: sum(1 for i in listed if i["startPath"] == p) for p in ("cell", "image")}
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    ok = sum(1 for status, _, _ in results if status == 200)
    containers = len({iid for _, iid, _ in results})
    print("Burst: 30 concurrent sync invocations of a cold function (handler sleeps 100 ms, maxInstances 10), "
          + ("from images (baseline)" if path == "image" else f"with {ready} cells ready"))
    print(f"  {ok}/30 succeeded on {containers} containers ({paths['cell']} from cells, {paths['image']} from "
          f"the image); all answered in {total * 1000:.0f} ms (slowest {max(r[2] for r in results) * 1000:.0f} ms, "
          f"fastest {min(r[2] for r in results) * 1000:.0f} ms)"
          + ("   (target: <= 1000 ms)" if path == "cell" else ""))
