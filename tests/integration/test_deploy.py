"""deploy/docker-compose.yml as an operator runs it (scripts/deploy): the control plane and workers from the
control-plane image, Redis from the local Redis image. A function deployed through it keeps working, and
async events accepted before a restart of the control-plane container complete after it."""

import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from alibabacloud_fc20230330.client import Client
from alibabacloud_fc20230330.models import ListFunctionsRequest
from alibabacloud_tea_openapi.models import Config

from helpers import Api, free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.deploy]

ROOT = Path(__file__).resolve().parents[2]
SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return event\n"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, docker_client):
    tmp = tmp_path_factory.mktemp("deploy")
    token = "faas_admin_" + secrets.token_urlsafe(16)
    (tmp / "api-token").write_text(token + "\n")
    (tmp / "api-token").chmod(0o600)
    (tmp / "redis-password").write_text(secrets.token_urlsafe(16) + "\n")
    (tmp / "redis-password").chmod(0o600)
    suffix = secrets.token_hex(3)
    env = os.environ | {"FAAS_PROJECT": f"faas-test-{suffix}", "FAAS_PLATFORM_ID": f"deploy{suffix}",
                        "FAAS_PORT": str(free_port()), "FAAS_REDIS_PORT": str(free_port()),
                        "FAAS_TOKEN_FILE": str(tmp / "api-token"), "FAAS_WORKERS": "2",
                        "FAAS_REDIS_PASSWORD_FILE": str(tmp / "redis-password"),
                        "FAAS_SECRET_KEY_FILE": str(tmp / "secret-key")}  # made by scripts/deploy
    env.pop("FAAS_API_TOKEN", None)

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(ROOT / "scripts" / "deploy"), *args], env=env, capture_output=True, text=True,
                                timeout=600, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"scripts/deploy {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    api = Api(f"http://127.0.0.1:{env['FAAS_PORT']}", token)

    def healthy() -> bool:
        try:
            return api.request("GET", "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    compose("up", "-d")
    try:
        wait_for(healthy, timeout=120, interval=0.5, what="the deployed control plane")
        yield api, compose, healthy, env
    finally:
        logs = compose("logs", "--no-color", "--tail", "50", check=False).stdout
        compose("down", "-v", check=False)
        left = docker_client.containers.list(all=True, filters={"label": f"faas.platform={env['FAAS_PLATFORM_ID']}"})
        for container in left:
            container.remove(force=True)
        assert not left, f"function containers left after compose down:\n{logs}"


def containers_of(docker_client, env, service):
    return docker_client.containers.list(filters={"label": [f"com.docker.compose.project={env['FAAS_PROJECT']}",
                                                            f"com.docker.compose.service={service}"]})


def test_deployed_as_compose_services(deployed, docker_client):
    api, _, _, env = deployed
    (plane,) = containers_of(docker_client, env, "control-plane")
    (worker,) = containers_of(docker_client, env, "worker")
    (redis,) = containers_of(docker_client, env, "redis")
    mounts = {c.name: {m["Destination"] for m in c.attrs["Mounts"]} for c in (plane, worker, redis)}
    assert "/var/run/docker.sock" in mounts[plane.name]
    assert "/var/run/docker.sock" not in mounts[worker.name] | mounts[redis.name]
    assert "/data" in mounts[redis.name]  # the named volume
    assert all(c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped" for c in (plane, worker, redis))
    # The token is a secret file, never in the image or the environment.
    token = api.http.headers["Authorization"].removeprefix("Bearer ")
    assert not any(token in e for c in (plane, worker) for e in c.attrs["Config"]["Env"])
    assert api.request("GET", "/v1/functions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # Redis answers only with its password, which is in no environment or command line either.
    password = Path(env["FAAS_REDIS_PASSWORD_FILE"]).read_text().strip()
    with pytest.raises(redis_lib.AuthenticationError):
        redis_lib.Redis(port=int(env["FAAS_REDIS_PORT"])).set("faas:tokens", "forged")
    assert redis_lib.Redis(port=int(env["FAAS_REDIS_PORT"]), password=password).ping()
    for c in (plane, worker, redis):
        assert not any(password in part for part in c.attrs["Config"]["Env"] + (c.attrs["Args"] or []))
    # The key access keys are encrypted under was made 0600 and reaches the control plane as a secret: a key
    # made through /v1 signs an FC 3.0 call.
    secret_key = Path(env["FAAS_SECRET_KEY_FILE"])
    assert secret_key.stat().st_mode & 0o777 == 0o600
    assert not any(secret_key.read_text().strip() in e for c in (plane, worker) for e in c.attrs["Config"]["Env"])
    made = api.request("POST", "/v1/access-keys", json={"role": "admin", "name": "deployed"})
    assert made.status_code == 201, made.text
    sdk = Client(Config(access_key_id=made.json()["accessKeyId"], access_key_secret=made.json()["accessKeySecret"],
                        endpoint=f"127.0.0.1:{env['FAAS_PORT']}", protocol="http"))
    assert sdk.list_functions(ListFunctionsRequest()).body.functions is not None
    # The console's files are in the installed package of the control-plane image.
    for path in ("/console/", "/console/console.js", "/console/vendor/uplot/uPlot.iife.min.js"):
        assert api.request("GET", path).status_code == 200, path


def test_function_and_async_events_survive_a_control_plane_restart(deployed, docker_client):
    api, compose, healthy, env = deployed
    api.deploy("echo", {"index.py": "def handler(event, context):\n    return event\n"})
    wait_for(lambda: re.search(r'^faas_cells{memory_mb="128",runtime="python3.11",state="ready"} [1-9]',
                               api.request("GET", "/metrics").text, re.M), timeout=60, what="a ready cell")
    first = api.invoke("echo", b"before")
    assert first.status_code == 200 and first.content == b"before"
    (listed,) = api.request("GET", "/v1/functions/echo/instances").json()["instances"]
    assert listed["transport"] == "unix"  # pid: host and SYS_PTRACE let the control plane reach the socket
    assert listed["startPath"] == "cell"  # its code hard-linked into a cell (the cells' directory is shared)

    api.deploy("slow", {"index.py": SLOW}, maxInstances=1)
    accepted = []
    for i in range(6):
        resp = api.invoke("slow", f"event-{i}", {"X-Fc-Invocation-Type": "Async"})
        assert resp.status_code == 202, resp.text
        accepted.append(resp.json()["requestId"])
    compose("restart", "control-plane")
    wait_for(healthy, timeout=120, interval=0.5, what="the control plane after its restart")

    again = api.invoke("echo", b"after")
    assert again.status_code == 200 and again.content == b"after"

    def ended(request_id):
        resp = api.request("GET", f"/v1/invocations/{request_id}")
        assert resp.status_code == 200, resp.text
        return resp.json() if resp.json()["status"] in ("succeeded", "failed") else None

    for request_id in accepted:
        record = wait_for(lambda rid=request_id: ended(rid), timeout=180, interval=0.5, what=f"event {request_id}")
        assert record["status"] == "succeeded", record
