"""Helpers shared by the tests: code zips, a small API client, free ports."""

from __future__ import annotations

import base64
import io
import socket
import time
import zipfile

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in files.items():
            zf.writestr(path, content)
    return buf.getvalue()


def code_b64(files: dict[str, str | bytes]) -> str:
    return base64.b64encode(make_zip(files)).decode()


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

    def create(self, name: str, files: dict[str, str | bytes] | None = None, **spec) -> requests.Response:
        body = {"name": name, **spec}
        if files is not None:
            body["code"] = {"zipFile": code_b64(files)}
        return self.request("POST", "/v1/functions", json=body)

    def deploy(self, name: str, files: dict[str, str | bytes], **spec) -> dict:
        resp = self.create(name, files, **spec)
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


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


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
