"""deploy/swarm/stack.yml through `scripts/deploy --swarm`, on a Docker engine of its own (a host in a
network namespace): a swarm is initialised, the host labelled, the stack deployed; functions run through
its front end on its faas-node, whose runtimes are reached over Unix sockets in per-container directories
(no `pid: host` in Swarm); async events run; `--swarm rm` takes everything away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cluster_hosts import Cluster, bases_present, sh

from faas.runtimes import image_runtimes
from helpers import Api, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]


def _deploy_images() -> list[str]:
    """What `scripts/deploy` needs on the stack's engine (built on the root engine when missing), so that it builds
    nothing there: every runtime's base and runtime image (it makes sure of them all; a base built there would
    take debootstrap's minute) and the control-plane and Redis images, with each of their tags (`local` and the
    content digest by which scripts/deploy knows it need not build them again); not other checkouts' builds."""
    built = subprocess.run([sys.executable, "-m", "faas.builder.images", "deploy"], check=True, capture_output=True,
                           text=True).stdout.split()
    tags = [t for t in built if not t.endswith(":local")]
    tags += bases_present(image_runtimes())
    for repo in ("faas-control-plane", "faas-redis"):
        tags += sh("docker", "image", "inspect", f"{repo}:local", "--format", "{{join .RepoTags \" \"}}").stdout.split()
    return tags


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("network namespaces and extra dockerds need root")
    logs = tmp_path_factory.mktemp("swarm")
    cluster = Cluster(hosts=1, frontends=0, workers=0, registry=False, log_dir=logs).start_hosts(_deploy_images())
    host = cluster.hosts[0]
    secrets = host.dir / "secrets"
    secrets.mkdir()
    token = "faas_admin_swarm_" + cluster.tag
    (secrets / "api-token").write_text(token + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")} | {
        "DOCKER_HOST": host.docker_host, "FAAS_DOCKER_SOCKET": str(host.dir / "docker.sock"),
        "FAAS_DATA_DIR": str(host.dir / "faas"), "FAAS_TOKEN_FILE": str(secrets / "api-token"),
        "FAAS_NODE_TOKEN_FILE": str(secrets / "node-token"), "FAAS_REDIS_PASSWORD_FILE": str(secrets / "redis"),
        "FAAS_SECRET_KEY_FILE": str(secrets / "secret-key"),
        "FAAS_REDIS_PRIMARY": host.ip, "FAAS_SWARM_ADDR": host.ip, "FAAS_HOST_MEMORY_MB": "2048",
        "FAAS_PROJECT": "faas" + cluster.tag}

    def deploy(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ROOT / "scripts" / "deploy"), "--swarm", *args], env=env,
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)

    try:
        done = deploy()
        assert done.returncode == 0, done.stdout + done.stderr
        api = Api(f"http://{host.ip}:8080", token)
        wait_for(lambda: _healthy(api), timeout=180, what="the stack's front end")
        yield cluster, api, deploy
    finally:
        deploy("rm")
        wait_for(lambda: not sh("docker", "-H", host.docker_host, "ps", "-q").stdout.split(), timeout=120,
                 what="the stack's containers (and the functions') to go")
        sh("docker", "-H", host.docker_host, "swarm", "leave", "--force", check=False)
        cluster.stop()


def _healthy(api: Api) -> bool:
    try:
        return api.request("GET", "/healthz", timeout=2).status_code == 200 and \
            len(api.request("GET", "/v1/nodes", timeout=2).json()["nodes"]) == 1
    except (requests.RequestException, ValueError, KeyError):
        return False


def test_the_stack_runs_functions_on_its_node_over_unix_sockets(swarm):
    cluster, api, deploy = swarm
    host = cluster.hosts[0]
    services = deploy("services").stdout
    for name in ("frontend", "node", "worker", "redis"):
        assert f"_{name} " in services, services
    assert api.request("POST", "/v1/access-keys", json={"role": "invoke", "name": "swarm"}).status_code == 201
    (node,) = api.request("GET", "/v1/nodes").json()["nodes"]
    assert node["takingWork"] and node["address"] == f"{host.ip}:8090" and node["budgetMB"] == 2048
    api.deploy("hello", {"index.py": "def handler(event, context):\n    return b'swarm:' + event\n"})
    resp = api.invoke("hello", b"x")
    assert resp.status_code == 200 and resp.content == b"swarm:x", resp.text
    (instance,) = api.request("GET", "/v1/functions/hello/instances").json()["instances"]
    assert instance["transport"] == "unix" and instance["node"] == node["nodeId"]
    assert list((host.dir / "faas" / "sockets" / "default").iterdir())  # one directory per container
    accepted = api.invoke("hello", b"later", headers={"X-Fc-Invocation-Type": "Async"})
    assert accepted.status_code == 202
    rid = accepted.json()["requestId"]
    wait_for(lambda: api.request("GET", f"/v1/invocations/{rid}").json().get("status") == "succeeded", timeout=60,
             what="the async event through the stack's workers")
    assert api.request("GET", f"/v1/invocations/{rid}").json()["result"] == "swarm:later"
