"""Three Docker hosts on one machine (network namespaces, each with its own dockerd and faas-node), two front
ends, workers, Redis with three Sentinels and a registry: the platform past one host, end to end."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from cluster_hosts import Cluster, sh

from faas.cluster import rendezvous
from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow, pytest.mark.cluster]

HOSTNAME = "import socket\ndef handler(event, context):\n    return socket.gethostname() + ':' + event.decode()\n"
SLOW = ("import time\ndef handler(event, context):\n    time.sleep(float(event or b'2'))\n"
        "    return 'slept ' + event.decode()\n")


class _Id:
    def __init__(self, node_id: str):
        self.id = node_id


def ranking(name: str, nodes=("h1", "h2", "h3"), version: str = "LATEST") -> list[str]:
    return [n.id for n in rendezvous.rank(f"{name}@{version}", [_Id(n) for n in nodes])]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("network namespaces and extra dockerds need root")
    artifacts = Path(os.environ.get("FAAS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "var" /
                                    "test-artifacts")) / "cluster"
    artifacts.mkdir(parents=True, exist_ok=True)
    made = Cluster(log_dir=artifacts).start()
    yield made
    tag = made.tag
    left = made.stop()
    assert left == [], f"function containers left behind on the hosts: {left}"
    assert tag not in sh("ip", "netns", "list").stdout
    assert tag not in sh("ip", "-br", "link").stdout
    assert not made.dir.exists()


def node_of(api, name: str) -> list[str]:
    return [i["node"] for i in api.request("GET", f"/v1/functions/{name}/instances").json()["instances"]]


def test_the_front_ends_list_the_nodes(cluster):
    for index in (0, 1):
        listed = cluster.api(index).request("GET", "/v1/nodes").json()
        assert listed["role"] == "frontend"
        assert [(n["nodeId"], n["address"], n["takingWork"], n["budgetMB"]) for n in listed["nodes"]] == \
            [(h.name, h.address, True, 3072) for h in cluster.hosts]
    api = cluster.api(0)
    for bad, status in (("no-such-node", 404), ("H1", 400), ("a" * 64, 400)):
        resp = api.request("POST", f"/v1/nodes/{bad}/drain")
        assert resp.status_code == status, resp.text
    assert api.request("GET", "/v1/nodes", headers={"Authorization": "Bearer wrong"}).status_code == 401
    cli = subprocess.run([sys.executable, "-m", "faas.cli.main", "nodes"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "FAAS_URL": api.base, "FAAS_TOKEN": cluster.token}, timeout=60)
    rows = [line.split("\t") for line in cli.stdout.splitlines()]  # piped: tab-separated, no header
    assert cli.returncode == 0 and [(r[0], r[1], r[2]) for r in rows] == \
        [(h.name, h.address, "up") for h in cluster.hosts], cli.stdout + cli.stderr


def test_repeated_calls_of_a_function_run_on_one_node_with_one_cold_start(cluster):
    api = cluster.api(0)
    api.deploy("stay", {"index.py": HOSTNAME})
    answers = [cluster.api(i % 2).invoke("stay", f"{i}".encode()) for i in range(12)]  # through both front ends
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert [r.headers["X-Fc-Cold-Start"] for r in answers].count("true") == 1
    assert len({r.text.split(":")[0] for r in answers}) == 1  # one container
    assert node_of(api, "stay") == [ranking("stay")[0]]  # on its home node
    # The node's log channel wrote the REPORT lines (a few ms later) where the front ends read them.
    def reports() -> list[str]:
        text = api.request("GET", "/v1/functions/stay/logs?tail=100").text
        return [line for line in text.splitlines() if "REPORT RequestId" in line]

    wait_for(lambda: len(reports()) >= 12, timeout=120, what="the 12 REPORT lines", detail=reports)
    found = reports()
    rids = {re.search(r"REPORT RequestId: (\S+)", line).group(1) for line in found}
    assert len(found) == 12 and rids == {r.headers["X-Fc-Request-Id"] for r in answers}, found  # one per call


def test_functions_spread_over_the_nodes_and_their_images_are_placed_ahead(cluster):
    api = cluster.api(1)
    homes: dict[str, str] = {}  # one function whose ranking puts its home on each node
    for name in (f"spread-{i}" for i in range(100)):
        homes.setdefault(ranking(name)[0], name)
    names = sorted(homes.values())
    assert len(names) == 3
    for name in names:
        api.deploy(name, {"index.py": HOSTNAME})
    image = api.request("GET", "/v1/functions/spread-0").json()["image"]
    assert image.startswith(cluster.registry_address + "/")

    def placed(host, image):
        return sh("docker", "-H", host.docker_host, "image", "inspect", image, check=False).returncode == 0

    hosts = {h.name: h for h in cluster.hosts}
    for name in names:  # the top two nodes of each ranking pulled its image before any invocation
        image = api.request("GET", f"/v1/functions/{name}").json()["image"]
        top = ranking(name)[:2]
        wait_for(lambda image=image, top=top: all(placed(hosts[n], image) for n in top), timeout=60,
                 what=f"{name}'s image on {top}")
    for name in names:
        resp = api.invoke(name, b"x")
        assert resp.status_code == 200 and resp.headers["X-Fc-Cold-Start"] == "true", resp.text
    ran_on = {name: node_of(api, name) for name in names}
    assert all(ran_on[name] == [ranking(name)[0]] for name in names), ran_on
    assert {n for found in ran_on.values() for n in found} == {"h1", "h2", "h3"}


def test_a_custom_container_image_reaches_nodes_by_docker_save_and_load(cluster):
    """An image the registry does not hold (a custom container's, on the front end's engine) is sent to the
    nodes that take the function with docker save | docker load."""
    api = cluster.api(0)
    builder = cluster.hosts[0]  # the front ends build on h1's engine
    tag = f"faas-cluster-custom:{cluster.platform_id}"
    dockerfile = (f"FROM {cluster.runtime_image}\nUSER root\n"
                  "RUN printf 'def handler(e, c):\\n    return b\"custom:\" + e\\n' > /code/app.py\n"
                  "USER 10001:10001\n")
    sh("docker", "-H", builder.docker_host, "build", "-q", "-t", tag, "-", input=dockerfile)
    name = next(n for n in (f"custom-{i}" for i in range(100)) if "h1" not in ranking(n)[:2])
    created = api.create(name, runtime="custom-container", handler="app.handler", customContainer={"image": tag})
    assert created.status_code == 201, created.text
    resp = api.invoke(name, b"e")
    assert resp.status_code == 200 and resp.content == b"custom:e", resp.text
    hosts = {h.name: h for h in cluster.hosts}
    for node in ranking(name)[:2]:
        wait_for(lambda node=node: sh("docker", "-H", hosts[node].docker_host, "image", "inspect", tag,
                                      check=False).returncode == 0, timeout=60, what=f"the image on {node}")
    assert api.delete(name).status_code == 204


def test_a_layer_reaches_the_nodes_ahead_and_its_files_are_seen_there(cluster):
    """A layer's image goes the way of function images (the registry here): the nodes that take a function pull
    its layers' images with its own, before any invocation, and each unpacks them once for its containers."""
    api = cluster.api(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/shared.py", "import socket\nWHERE = 'layer on ' + socket.gethostname()\n")
    made = api.request("POST", "/v1/layers/cluster-shared/versions",
                       json={"code": {"zipFile": base64.b64encode(buf.getvalue()).decode()}})
    assert made.status_code == 201, made.text
    layer_image = made.json()["image"]
    assert layer_image.startswith(cluster.registry_address + "/")
    name = next(n for n in (f"layered-{i}" for i in range(100)) if "h1" not in ranking(n)[:2])
    api.deploy(name, {"index.py": "import shared\ndef handler(event, context):\n    return shared.WHERE\n"},
               layers=[made.json()["ref"]])
    hosts = {h.name: h for h in cluster.hosts}
    for node in ranking(name)[:2]:
        wait_for(lambda node=node: sh("docker", "-H", hosts[node].docker_host, "image", "inspect", layer_image,
                                      check=False).returncode == 0, timeout=60, what=f"the layer's image on {node}")
    resp = api.invoke(name, b"")
    assert resp.status_code == 200 and resp.text.startswith("layer on "), resp.text
    assert node_of(api, name) == [ranking(name)[0]]
    in_use = api.request("DELETE", "/v1/layers/cluster-shared/versions/1")
    assert in_use.status_code == 409, in_use.text
    assert api.delete(name).status_code == 204
    assert api.request("DELETE", "/v1/layers/cluster-shared/versions/1").status_code == 204


WEB = """import json, os, socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def send(self, code, body, kind):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        seen = {k.lower(): v for k, v in self.headers.items()}
        doc = {"path": self.path, "host": socket.gethostname(), "headers": seen}
        self.send(200, json.dumps(doc).encode(), "application/json")
    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send(201, data[::-1], "application/octet-stream")
ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FC_SERVER_PORT", "9000"))), H).serve_forever()
"""


def test_a_web_function_behind_an_http_trigger_runs_on_its_home_node(cluster):
    api = cluster.api(1)
    tag = f"faas-cluster-web:{cluster.platform_id}"
    context = cluster.dir / "web"
    context.mkdir()
    (context / "web.py").write_text(WEB)
    (context / "Dockerfile").write_text(f"FROM {cluster.runtime_image}\nCOPY web.py /srv/web.py\n"
                                        "CMD [\"python3\", \"/srv/web.py\"]\n")
    sh("docker", "-H", cluster.hosts[0].docker_host, "build", "-q", "-t", tag, str(context))
    api.deploy("web", None, runtime="custom-container", customContainer={"image": tag})
    trigger = api.request("POST", "/v1/functions/web/triggers", json={
        "triggerName": "site", "triggerType": "http", "triggerConfig": {"authType": "anonymous"}})
    assert trigger.status_code == 201, trigger.text
    home = next(h for h in cluster.hosts if h.name == ranking("web")[0])
    wait_for(lambda: sh("docker", "-H", home.docker_host, "image", "inspect", tag, check=False).returncode == 0,
             timeout=60, what="the image sent to the home node")  # (until then, calls go where it is)
    base = f"{api.base}/function/web"
    # A client's X-Faas-* headers (the front end's to the node) are dropped, its own Authorization kept.
    hello = requests.get(f"{base}/hello/x?q=1", headers={"X-Custom": "c", "X-Faas-Target": "/evil",
                                                         "X-Faas-Node-Token": "forged", "Authorization": "Bearer u"},
                         timeout=60)
    assert hello.status_code == 200, hello.text
    doc = hello.json()
    assert doc["path"] == "/hello/x?q=1" and doc["headers"]["x-custom"] == "c"
    assert doc["headers"]["authorization"] == "Bearer u"
    assert not [k for k in doc["headers"] if k.startswith("x-faas-")], doc["headers"]
    assert doc["headers"]["x-fc-request-id"] == hello.headers["X-Fc-Request-Id"]
    raw = bytes(range(256)) * 4000
    echo = requests.post(f"{base}/echo", data=raw, timeout=60)
    assert echo.status_code == 201 and echo.content == raw[::-1]
    assert set(node_of(api, "web")) == {ranking("web")[0]}


WSGI = """
def handler(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Path", environ["PATH_INFO"])])
    return [b"wsgi:", environ["REQUEST_METHOD"].encode(), b":", body]
"""


def test_a_wsgi_function_and_its_code_through_a_front_end(cluster):
    """FC 2.0's HTTP functions (WSGI applications) run on a node as on one host; a function's code comes back
    from a front end as the zip it was deployed as."""
    api = cluster.api(0)
    api.deploy("wsgi", {"index.py": WSGI}, handlerType="wsgi")
    trigger = api.request("POST", "/v1/functions/wsgi/triggers", json={
        "triggerName": "site", "triggerType": "http", "triggerConfig": {"authType": "anonymous"}})
    assert trigger.status_code == 201, trigger.text
    answer = requests.post(f"{api.base}/function/wsgi/a/b", data=b"payload", timeout=60)
    assert answer.status_code == 200 and answer.content == b"wsgi:POST:payload", answer.text
    assert answer.headers["X-Path"] == "/a/b"
    code = api.request("GET", "/v1/functions/wsgi/code")
    assert code.status_code == 200, code.text
    with zipfile.ZipFile(io.BytesIO(code.content)) as archive:
        assert archive.read("index.py").decode() == WSGI
    api.delete("wsgi")


def test_a_full_home_node_spills_to_the_next(cluster):
    """Nodes have a 3072 MB budget: two busy 1536 MB containers fill the home node, the third call goes to
    the next node of the ranking, and every call succeeds."""
    api = cluster.api(0)
    api.deploy("big", {"index.py": SLOW}, memoryMB=1536)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(api.invoke, "big", b"3") for _ in range(3)]
        results = [c.result() for c in calls]
    assert all(r.status_code == 200 and r.text == "slept 3" for r in results), [r.text for r in results]
    found = node_of(api, "big")
    home, second = ranking("big")[:2]
    assert sorted(found) == sorted([home, home, second]), found


def test_a_reserved_instance_lives_on_the_home_node(cluster):
    api = cluster.api(1)
    api.deploy("kept", {"index.py": HOSTNAME}, reservedInstances=1)
    home = ranking("kept")[0]
    wait_for(lambda: [i["node"] for i in api.request("GET", "/v1/functions/kept/instances").json()["instances"]
                      if i["reserved"] and i["state"] == "Ready"] == [home], timeout=60,
             what="the reserved container on the home node")
    resp = api.invoke("kept", b"x")
    assert resp.status_code == 200 and resp.headers["X-Fc-Cold-Start"] == "false"


def test_async_events_accepted_before_and_after_a_redis_failover_all_complete(cluster):
    api = cluster.api(0)
    api.deploy("events", {"index.py": "def handler(event, context):\n    return b'done:' + event\n"})
    redis_set = cluster.redis

    def accept(event: bytes, deadline: float) -> str:
        while True:
            resp = cluster.api(len(event) % 2).invoke("events", event, headers={"X-Fc-Invocation-Type": "Async"})
            if resp.status_code == 202:
                return resp.json()["requestId"]
            assert resp.status_code == 503 and time.monotonic() < deadline, resp.text
            time.sleep(0.2)

    before = [accept(f"before-{i}".encode(), time.monotonic() + 30) for i in range(20)]
    old = redis_set.primary
    os.kill(redis_set.procs[old].pid, signal.SIGKILL)
    after = [accept(f"after-{i}".encode(), time.monotonic() + 60) for i in range(20)]
    assert redis_set.primary_now() != old

    def status(rid):
        resp = api.request("GET", f"/v1/invocations/{rid}", timeout=10)
        return resp.json() if resp.status_code == 200 else {}

    wait_for(lambda: all(status(r).get("status") == "succeeded" for r in before + after), timeout=120,
             what="every event accepted before and after the failover to end")
    assert {status(r)["result"] for r in before + after} == \
        {f"done:{side}-{n}" for side in ("before", "after") for n in range(20)}
    # The nodes beat to the new primary: sync calls work again.
    wait_for(lambda: api.invoke("events", b"sync").text == "done:sync", timeout=30, what="sync calls")


def test_a_node_cut_off_loses_its_functions_to_the_others(cluster):
    api = cluster.api(0)
    api.deploy("moving", {"index.py": HOSTNAME})
    assert api.invoke("moving", b"warm").status_code == 200
    home = next(h for h in cluster.hosts if h.name == ranking("moving")[0])
    next_home = ranking("moving", [h.name for h in cluster.hosts if h is not home])[0]
    # A function with a reserved container on the same home node: it is placed again on its next node.
    kept = next(n for n in (f"kept-{i}" for i in range(100)) if ranking(n)[0] == home.name)
    kept_next = ranking(kept, [h.name for h in cluster.hosts if h is not home])[0]
    api.deploy(kept, {"index.py": HOSTNAME}, reservedInstances=1)

    def reserved_on() -> list[str]:
        return [i["node"] for i in api.request("GET", f"/v1/functions/{kept}/instances", timeout=10).json()
                ["instances"] if i["reserved"] and i["state"] == "Ready"]

    wait_for(lambda: reserved_on() == [home.name], timeout=60, what="the reserved container on its home node")
    cluster.cut(home)
    try:
        # Within seconds its heartbeat is gone and calls go to the next node of the ranking.
        def moved() -> bool:
            try:
                return api.request("POST", "/v1/functions/moving/invocations", data=b"probe", timeout=10).ok
            except requests.RequestException:
                return False

        wait_for(moved, timeout=60, what="a call served by another node")
        answers = [api.invoke("moving", f"{i}".encode()) for i in range(20)]
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        assert set(node_of(api, "moving")) == {next_home}  # the cut node does not answer the listing either
        wait_for(lambda: reserved_on() == [kept_next], timeout=60, what="the reserved container on the next node")
    finally:
        cluster.mend(home)
    wait_for(lambda: cluster.beating(home), timeout=60, what="the mended node's heartbeat")


def test_a_drained_node_finishes_its_calls_and_takes_no_new_ones(cluster):
    api = cluster.api(1)
    api.deploy("draining", {"index.py": SLOW})
    home = next(h for h in cluster.hosts if h.name == ranking("draining")[0])
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        call = pool.submit(api.invoke, "draining", b"3")
        wait_for(lambda: any(i["activeInvocations"] for i in api.request(
            "GET", "/v1/functions/draining/instances").json()["instances"]), timeout=60, what="the call to run")
        drained = api.request("POST", f"/v1/nodes/{home.name}/drain")  # as an operator drains a host
        assert drained.status_code == 200 and drained.json()["inFlight"] == 0, drained.text
        assert call.result().status_code == 200 and call.result().text == "slept 3"
    assert cluster.node_api(home, "GET", "/healthz").json()["status"] == "draining"
    resp = api.invoke("draining", b"0")  # the next node of the ranking takes it
    assert resp.status_code == 200 and resp.headers["X-Fc-Cold-Start"] == "true"
    ran = [i["node"] for i in api.request("GET", "/v1/functions/draining/instances").json()["instances"]
           if i["instanceId"] == resp.headers["X-Fc-Instance-Id"]]
    assert ran == [ranking("draining", [h.name for h in cluster.hosts if h is not home])[0]]
    listed = {n["nodeId"]: n for n in api.request("GET", "/v1/nodes").json()["nodes"]}
    assert listed[home.name]["draining"] and not listed[home.name]["takingWork"]
    cluster.stop_node(home)  # its containers go with it
    assert not cluster.beating(home)
    wait_for(lambda: home.name not in {n["nodeId"] for n in api.request("GET", "/v1/nodes").json()["nodes"]},
             timeout=60, what="the stopped node to leave the list")
