"""Helpers shared by the tests: code zips, a small API client, free ports."""

from __future__ import annotations

import base64
import io
import math
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import redis
import redis.sentinel
import requests


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def build_image(docker_client, tag: str, files: dict[str, str]) -> str:
    """An image `tag` built from `files` (a Dockerfile among them) as its whole context."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(text.encode()))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    return tag


def build_handler_image(docker_client, base: str, tag: str, result: str) -> str:
    """An image `tag` on `base` (the runtime image) with /code/app.py whose handler returns `result` + the
    event: a custom container that speaks the protocol."""
    dockerfile = (f"FROM {base}\nUSER root\n"
                  f"RUN printf 'def handler(e, c):\\n    return b\"{result}\" + e\\n' > /code/app.py\n"
                  "USER 10001:10001\n")
    return build_image(docker_client, tag, {"Dockerfile": dockerfile})


def runtime_image() -> str:
    """The platform's runtime image (built when missing): a base with Python for test images."""
    import asyncio

    from faas.builder.images import ensure_runtime_image
    from faas.config import Settings
    from faas.docker_host import DockerHost

    settings = Settings.from_env()
    host = DockerHost(settings)
    try:
        return asyncio.run(ensure_runtime_image(host, settings))
    finally:
        host.close()


def build_ric_image(docker_client, tag: str, app: str) -> str:
    """A Lambda container image `tag` as Lambda's docs build one: Python, awslambdaric from PyPI (its wheels fetched
    by the host's pip, which trusts what the host trusts), `app` as app.py and its `handler` as CMD."""
    with tempfile.TemporaryDirectory(prefix="faas-ric-") as wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64",
                        "--dest", wheels, "awslambdaric"], check=True, timeout=300, stderr=subprocess.DEVNULL)
        dockerfile = (f"FROM {runtime_image()}\nUSER root\nCOPY wheels/ /tmp/wheels/\n"
                      "RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --break-system-packages "
                      "--no-index --find-links /tmp/wheels awslambdaric && rm -rf /tmp/wheels\n"
                      "COPY app.py /function/app.py\nWORKDIR /function\nUSER 10001:10001\n"
                      'ENTRYPOINT ["python3", "-m", "awslambdaric"]\nCMD ["app.handler"]\n')
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for name, data in [("Dockerfile", dockerfile.encode()), ("app.py", app.encode()),
                               *((f"wheels/{w.name}", w.read_bytes()) for w in sorted(Path(wheels).iterdir()))]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    return tag


def build_server_image(docker_client, tag: str, server: str) -> str:
    """A custom container `tag`: the runtime image (it has Python) running the script `server`."""
    base = runtime_image()
    return build_image(docker_client, tag, {
        "Dockerfile": f"FROM {base}\nCOPY server.py /srv/server.py\nCMD [\"python3\", \"/srv/server.py\"]\n",
        "server.py": server})


def make_zip(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    """A zip of `files`; those named in `executable` with mode 0755 (the others 0644)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if path in executable else 0o100644) << 16
            zf.writestr(info, content)
    return buf.getvalue()


def code_b64(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> str:
    return base64.b64encode(make_zip(files, executable)).decode()


class Api:
    """A thin client of the REST API for tests."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base = base_url.rstrip("/")
        self.token = token
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 300)
        return self.http.request(method, self.base + path, **kw)

    def create(self, name: str, files: dict[str, str | bytes] | None = None, executable: tuple[str, ...] = (),
               **spec) -> requests.Response:
        """`executable`: files of `files` zipped with mode 0755."""
        body = {"name": name, **spec}
        if files is not None:
            body["code"] = {"zipFile": code_b64(files, executable)}
        return self.request("POST", "/v1/functions", json=body)

    def deploy(self, name: str, files: dict[str, str | bytes], executable: tuple[str, ...] = (), **spec) -> dict:
        resp = self.create(name, files, executable, **spec)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def update(self, name: str, files: dict[str, str | bytes] | None = None, **spec) -> requests.Response:
        body = dict(spec)
        if files is not None:
            body["code"] = {"zipFile": code_b64(files)}
        return self.request("PUT", f"/v1/functions/{name}", json=body)

    def invoke(self, name: str, event: bytes | str = b"", headers: dict | None = None) -> requests.Response:
        return self.request("POST", f"/v1/functions/{name}/invocations", data=event, headers=headers or {})

    def delete(self, name: str) -> requests.Response:
        return self.request("DELETE", f"/v1/functions/{name}")


class ScriptedPolicy:
    """A keep-alive policy (pool/keepalive) that answers one decision, and keeps the idle times it is told."""

    def __init__(self, decision):
        self.decision, self.seen = decision, []

    def observe(self, idle_s):
        self.seen.append(idle_s)

    def decide(self):
        return self.decision


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition", detail=None):
    """`predicate()`'s first true value; on a timeout, an error naming `what`, with `detail()` when given (what
    was seen instead)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; seen: {detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{seen}")
        time.sleep(interval)


def wait_repeating(act, predicate, every: float = 2.0, timeout: float = 60.0, what: str = "condition"):
    """`predicate()`'s first true value, doing `act()` first and again every `every` seconds until then: for a
    listener that gives no sign of being ready (a log follower prints only what comes after it connected), so
    that what it does with an act done after is the sign."""
    last = -math.inf

    def check():
        nonlocal last
        if time.monotonic() - last >= every:
            act()
            last = time.monotonic()
        return predicate()

    return wait_for(check, timeout=timeout, what=what)


IMAGE_PATH = {"PYTHONDONTWRITEBYTECODE": "1"}
"""An environment that keeps a function's containers off cells (a PYTHON* variable acts when the interpreter
starts, so cells, started already, are not used) and changes nothing else (the runtime image sets it too):
for tests of what happens when a container cannot start from its image, or that find containers by label."""


def change_behind_its_back(plat, name: str, environment: dict[str, str]) -> None:
    """While `plat`'s control plane is down, write a new revision of function `name` with `environment`
    straight to its Redis: the containers it left no longer run what the function is."""
    import json

    import redis

    client = redis.Redis.from_url(plat.env["FAAS_REDIS_URL"])
    key = f"{plat.env['FAAS_REDIS_PREFIX']}:fn:{name}"
    record = json.loads(client.get(key))
    record["revision"] += 1
    record["environment"] = environment
    client.set(key, json.dumps(record))
    client.close()


SENTINEL_SERVICE = "faas-test"


class RedisSet:
    """A primary, its replicas and the Sentinels that watch them, each a redis-server process."""

    def __init__(self, root, service: str = SENTINEL_SERVICE, host: str = "127.0.0.1"):
        self.root, self.service, self.host = root, service, host
        self.binary = shutil.which("redis-server")
        self.procs: dict[int, subprocess.Popen] = {}
        try:
            self.primary = self._server()
            self.replicas = [self._server(f"--replicaof {host} {self.primary}") for _ in range(2)]
            self.sentinels = [self._sentinel(i) for i in range(3)]
        except BaseException:
            self.stop()  # none of those started is left running
            raise

    def _start(self, port: int, args: list[str]) -> int:
        log = open(self.root / f"redis-{port}.log", "ab")
        self.procs[port] = subprocess.Popen([self.binary, *args], stdout=log, stderr=log)
        wait_for(lambda: redis_answers(self.host, port), timeout=30, what=f"redis-server on {port}")
        return port

    def _server(self, extra: str = "") -> int:
        port = free_port(self.host)
        data = self.root / str(port)
        data.mkdir()
        return self._start(port, ["--port", str(port), "--bind", self.host, "--protected-mode", "no",
                                  "--save", "", "--appendonly", "yes",
                                  "--dir", str(data), *extra.split()])

    def _sentinel(self, index: int) -> int:
        # Each Sentinel finds the primary down after its own time (1, 1.5, 2 s). With one time, all three began a
        # failover in the same instant and each voted for itself: no leader, and the next try only after twice
        # the failover timeout (a 10 s outage; a 60 s one with a 30 s timeout, which failed a CI run). Staggered,
        # the last one votes for the first that asks it, which is then elected.
        port = free_port(self.host)
        conf = self.root / f"sentinel-{index}.conf"
        conf.write_text(f"port {port}\nbind {self.host}\nprotected-mode no\ndir {self.root}\n"
                        f"sentinel monitor {self.service} {self.host} {self.primary} 2\n"
                        f"sentinel down-after-milliseconds {self.service} {1000 + 500 * index}\n"
                        f"sentinel failover-timeout {self.service} 5000\n")
        return self._start(port, [str(conf), "--sentinel"])

    def primary_now(self) -> int:
        """The primary's port as a Sentinel says now."""
        _, port = redis.sentinel.Sentinel([(self.host, p) for p in self.sentinels]).discover_master(self.service)
        return int(port)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def ready(self) -> bool:
        """Every Sentinel knows both replicas (and so can promote one)."""
        return all(len(redis.Redis(self.host, s).sentinel_slaves(self.service)) == 2 for s in self.sentinels)

    @property
    def sentinel_list(self) -> str:
        """FAAS_REDIS_SENTINELS for it."""
        return ",".join(f"{self.host}:{p}" for p in self.sentinels)


def redis_answers(host: str, port: int) -> bool:
    """The redis-server on `port` answers a PING (within 1 s): a condition for wait_for."""
    try:
        return redis.Redis(host, port, socket_timeout=1).ping()
    except redis.RedisError:
        return False


def ready_cells(plat, memory_mb=128, runtime="python3.11") -> int:
    """Cells of `memory_mb` and `runtime` ready to be specialised, as the platform's /metrics counts them."""
    text = plat.api.request("GET", "/metrics").text
    found = re.search(rf'^faas_cells{{memory_mb="{memory_mb}",runtime="{runtime}",state="ready"}} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def make_access_key(plat, role: str, name: str) -> tuple[str, str]:
    """(id, secret) of a new access key of `role`, made through the platform's /v1 API."""
    resp = plat.api.request("POST", "/v1/access-keys", json={"role": role, "name": name})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return body["accessKeyId"], body["accessKeySecret"]


def run_output(docker_client, image: str, command: list[str], *, stdout: bool = True, stderr: bool = False,
               **kwargs) -> bytes:
    """What a container of `image` running `command` printed, read once it has exited. (docker-py's
    `containers.run` follows the log as the container starts; with the Debian engine that follow can miss all of a
    container that exits at once, and the output comes back empty.)"""
    container = docker_client.containers.create(image, command, **kwargs)
    try:
        container.start()
        status = container.wait(timeout=120)["StatusCode"]
        out = container.logs(stdout=stdout, stderr=stderr)
        assert status == 0, (status, container.logs(stdout=True, stderr=True)[-3000:])
        return out
    finally:
        container.remove(force=True)
