"""The node agent's internal API (faas-node), alone: a real process on the host's engine and Redis, called
the way a front end calls it, and with hostile calls: no or a wrong node token, forged releases, malformed
headers and bodies, a garbage image stream, a body past the limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis
import requests

from faas.cluster.members import NodeInfo
from faas.models import FunctionRecord, FunctionSpec, FunctionState
from helpers import build_handler_image, free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

TOKEN = "node-token-" + uuid.uuid4().hex


class Node:
    def __init__(self, redis_url: str, log_path):
        self.platform_id = "n" + uuid.uuid4().hex[:8]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = f"faas-{self.platform_id}"
        self.env = os.environ | {"FAAS_ROLE": "node", "FAAS_PORT": str(self.port), "FAAS_REDIS_URL": redis_url,
                                 "FAAS_REDIS_PREFIX": self.prefix, "FAAS_PLATFORM_ID": self.platform_id,
                                 "FAAS_NODE_TOKEN": TOKEN, "FAAS_NODE_ID": "node-a", "FAAS_CELLS_MAX": "0",
                                 "FAAS_HOST_MEMORY_MB": "512", "FAAS_QUEUE_TIMEOUT": "10"}
        self.log_path = log_path
        self.proc = subprocess.Popen([sys.executable, "-m", "faas.cluster.node"], env=self.env,
                                     stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
        wait_for(self._up, timeout=60, what="faas-node")

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def call(self, method: str, path: str, token: str | None = TOKEN, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kw)


@pytest.fixture(scope="module")
def image(docker_client):
    runtime = subprocess.run([sys.executable, "-m", "faas.builder.images", "runtime-tag"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    tag = build_handler_image(docker_client, runtime, f"faas-test-node-{uuid.uuid4().hex[:8]}:1", "node:")
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def node(redis_server, tmp_path_factory, docker_client):
    made = Node(redis_server, tmp_path_factory.mktemp("node") / "node.log")
    yield made
    if made.proc.poll() is None:
        made.proc.send_signal(signal.SIGTERM)
        made.proc.wait(60)
    left = docker_client.containers.list(all=True, filters={"label": f"faas.platform={made.platform_id}"})
    for c in left:
        c.remove(force=True)
    assert not left


def record(image: str, name: str = "fn", revision: int = 1, function_id: str = "ab12", **spec) -> FunctionRecord:
    body = {"name": name, "runtime": "custom-container", "handler": "app.handler", "customContainer": {"image": image},
            "timeoutSeconds": 10} | spec
    return FunctionRecord(spec=FunctionSpec.from_api(body), state=FunctionState.ACTIVE, revision=revision,
                          code_sha256=None, image=image, created_at=time.time(), updated_at=time.time(),
                          function_id=function_id)


def give(node: Node, rec: FunctionRecord, reserved: int = 0) -> requests.Response:
    return node.call("PUT", f"/node/v1/functions/{rec.name}/{rec.version_id}",
                     json={"record": rec.to_api(), "reserved": reserved})


def invoke_headers(rec: FunctionRecord, **extra) -> dict:
    return {"X-Faas-Function": rec.name, "X-Faas-Version": rec.version_id,
            "X-Faas-Release": f"{rec.function_id}:{rec.revision}", "X-Fc-Request-Id": uuid.uuid4().hex} | extra


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}",
                                           f"bearer {TOKEN}", f"Bearer {TOKEN}x", f"Bearer  {TOKEN}", "Bearer "],
                         ids=["none", "wrong", "basic", "lower-case", "longer", "two-spaces", "empty"])  # (ids the
# same in every test process: the token is made anew in each)
def test_every_route_but_health_needs_the_node_token(node, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (("POST", "/node/v1/invoke"), ("GET", "/node/v1/instances?function=fn"),
                         ("GET", "/node/v1/keep-alive?function=fn"),
                         ("PUT", "/node/v1/functions/fn/LATEST"), ("POST", "/node/v1/images"),
                         ("POST", "/node/v1/drain"), ("GET", "/node/v1/metrics"), ("DELETE", "/node/v1/functions/fn")):
        resp = node.call(method, path, token=None, headers=dict(headers))
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "Unauthorized", (method, path)
    assert node.call("GET", "/healthz", token=None).json() == {"status": "ok", "node": "node-a"}


def test_the_node_token_header_and_the_web_route(node, image):
    rec = record(image)
    assert give(node, rec).status_code == 200
    ok = node.call("GET", "/node/v1/instances", token=None, params={"function": "fn"},
                   headers={"X-Faas-Node-Token": TOKEN})
    assert ok.status_code == 200
    # The web route takes the token only from X-Faas-Node-Token: Authorization is the web function's own.
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"X-Faas-Node-Token": TOKEN + "x"}):
        resp = node.call("GET", "/node/v1/web", token=None, headers=invoke_headers(rec, **headers))
        assert resp.status_code == 401
    for bad in ({"X-Faas-Target": "relative"}, {"X-Faas-Target": "/a b"}, {"X-Faas-Target": "/caf\u00e9"},
                {"X-Faas-Trigger": "timer/t"}, {"X-Faas-Release": "ab12:9"}):
        headers = invoke_headers(rec, **{"X-Faas-Node-Token": TOKEN, "X-Faas-Target": "/p",
                                         "X-Faas-Trigger": "http/t"} | bad)
        resp = node.call("GET", "/node/v1/web", token=None, headers=headers)
        assert resp.status_code in (400, 409), (bad, resp.text)
        assert resp.headers["X-Faas-Node-Error"] == resp.json()["error"]["code"]


def test_a_release_given_then_invoked(node, image):
    rec = record(image)
    given = give(node, rec)
    assert given.status_code == 200, given.text
    first = node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec))
    assert first.status_code == 200 and first.content == b"node:e", first.text
    assert first.headers["X-Faas-Cold-Start"] == "1" and first.headers["X-Faas-Instance"]
    second = node.call("POST", "/node/v1/invoke", data=b"f", headers=invoke_headers(rec, **{"X-Faas-Spill": "1"}))
    assert second.content == b"node:f" and second.headers["X-Faas-Cold-Start"] == "0"
    found = node.call("GET", "/node/v1/instances", params={"function": "fn"}).json()
    assert [(i["node"], i["instanceId"]) for i in found] == [("node-a", first.headers["X-Faas-Instance"])]
    # Its next heartbeat advertises the idle warm container.
    conn = redis.Redis.from_url(node.env["FAAS_REDIS_URL"])
    wait_for(lambda: "fn@LATEST" in NodeInfo.from_json(conn.get(f"{node.prefix}:node:node-a")).pools, timeout=30,
             what="the heartbeat")
    beat = NodeInfo.from_json(conn.get(f"{node.prefix}:node:node-a"))
    assert beat.address == f"127.0.0.1:{node.port}" and beat.pools["fn@LATEST"] == (1, 0) and not beat.draining
    assert beat.budget_mb == 512 and beat.free_mb == 512 - 128


@pytest.mark.parametrize("change", [{"X-Faas-Release": "cd34:1"}, {"X-Faas-Release": "ab12:2"},
                                    {"X-Faas-Function": "other"}, {"X-Faas-Version": "3"}])
def test_a_release_the_node_was_not_given_is_refused(node, image, change):
    rec = record(image)
    assert give(node, rec).status_code == 200
    resp = node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec, **change))
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "ReleaseUnknown", resp.text


@pytest.mark.parametrize("change", [
    {"X-Faas-Release": "ab12"}, {"X-Faas-Release": "AB12:1"}, {"X-Faas-Release": "ab12:0"},
    {"X-Faas-Release": "ab12:1,ab12:2"}, {"X-Faas-Release": "ab12:1:1"}, {"X-Faas-Release": "zz:1"},
    {"X-Faas-Version": "latest"}, {"X-Faas-Version": "01"}, {"X-Faas-Version": "1e3"}, {"X-Faas-Version": ""},
    {"X-Faas-Function": "Fn"}, {"X-Faas-Function": "a" * 64}, {"X-Faas-Function": "../fn"},
    {"X-Fc-Request-Id": "a_b"}, {"X-Fc-Request-Id": "x" * 65}, {"X-Fc-Attempt": "0"}, {"X-Fc-Attempt": "99999"},
    {"X-Fc-Attempt": "1.5"}, {"X-Faas-Trigger": "cron/x"}, {"X-Faas-Trigger": "timer/"},
])
def test_malformed_invocation_headers_are_refused(node, image, change):
    rec = record(image)
    assert give(node, rec).status_code == 200
    resp = node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec, **change))
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", resp.text


def test_a_node_without_room_refuses_a_spillable_call_at_once(node, image):
    rec = record(image, name="huge", memoryMB=1024)  # more than the node's 512 MB budget
    assert give(node, rec).status_code == 200
    resp = node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec, **{"X-Faas-Spill": "1"}))
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "TooManyRequests"
    assert "has no room" in resp.json()["error"]["message"], resp.text  # refused at once, not queued and timed out
    queued = node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec))
    assert queued.status_code == 429 and "within 10s" in queued.json()["error"]["message"]


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"record": {}, "reserved": 0}', b'{"record": "x", "reserved": 0}',
    b'{"reserved": 0}', b'{"record": {}, "reserved": -1}', b'{"record": {}, "reserved": true}',
    b'{"record": {}, "reserved": 1.5}', b'{"record": {}, "reserved": 100000}',
])
def test_malformed_releases_are_refused(node, body):
    resp = node.call("PUT", "/node/v1/functions/fn/LATEST", data=body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", resp.text


def test_forged_release_records_are_refused(node, image):
    assert give(node, record(image, name="other")).status_code == 200
    mismatch = node.call("PUT", "/node/v1/functions/fn/LATEST", json={"record": record(image, name="other").to_api(),
                                                                     "reserved": 0})
    assert mismatch.status_code == 400
    for bad in ("Bad Image", "x" * 300, "a\nb", "-flag"):
        rec = record(image).to_api() | {"image": bad}
        resp = node.call("PUT", "/node/v1/functions/fn/LATEST", json={"record": rec, "reserved": 0})
        assert resp.status_code == 400, bad
    for forged in ("faas-layer-x:1", ["Bad Image"], [1], ["a\nb"], [image] * 10_000, [image], {"x": 1}):
        rec = record(image).to_api() | {"layerImages": forged}  # (a function without layers has none)
        resp = node.call("PUT", "/node/v1/functions/fn/LATEST", json={"record": rec, "reserved": 0})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", (forged, resp.text)
    for path in ("/node/v1/functions/Fn/LATEST", "/node/v1/functions/fn/latest", "/node/v1/functions/fn/0"):
        assert node.call("PUT", path, json={"record": record(image).to_api(), "reserved": 0}).status_code == 400
    missing = node.call("PUT", "/node/v1/functions/fn/LATEST",
                        json={"record": record(image).to_api() | {"image": "faas-no-such-image:1"}, "reserved": 0})
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "ImageMissing"


def test_a_garbage_image_stream_is_refused(node):
    resp = node.call("POST", "/node/v1/images", data=b"\x00not a tar" * 1000)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", resp.text


def test_an_event_past_the_limit_is_refused(node, image):
    rec = record(image)
    assert give(node, rec).status_code == 200
    resp = node.call("POST", "/node/v1/invoke", data=b"x" * (65 << 20), headers=invoke_headers(rec))
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "PayloadTooLarge"


def test_malformed_listings_are_refused(node):
    for path in ("/node/v1/instances", "/node/v1/keep-alive"):
        for params in ({}, {"function": "Bad"}, {"function": "fn", "versions": "x"},
                       {"function": "fn", "versions": "1,"}, {"function": "fn\n"}, {"function": "f" * 64},
                       {"function": "fn", "versions": "LATEST\n"}, {"function": "fn", "versions": "../LATEST"}):
            resp = node.call("GET", path, params=params)
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", (path, params)


def test_the_keep_alive_listing_names_each_version_and_the_node(node, image):
    rec = record(image, name="kept")
    assert give(node, rec).status_code == 200
    assert node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec)).status_code == 200
    (decision,) = node.call("GET", "/node/v1/keep-alive", params={"function": "kept"}).json()
    assert decision["versionId"] == "LATEST" and decision["node"] == "node-a" and decision["policy"] == "adaptive"
    assert decision["rule"] == "learning" and decision["samples"] == 0
    assert node.call("GET", "/node/v1/keep-alive", params={"function": "kept", "versions": "1"}).json() == []
    assert node.call("DELETE", "/node/v1/functions/kept").status_code == 204


def test_deleting_a_function_removes_its_containers(node, image, docker_client):
    rec = record(image, name="gone")
    assert give(node, rec).status_code == 200
    assert node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec)).status_code == 200
    assert node.call("DELETE", "/node/v1/functions/gone").status_code == 204
    assert node.call("GET", "/node/v1/instances", params={"function": "gone"}).json() == []
    assert not docker_client.containers.list(filters={"label": ["faas.function=gone",
                                                                f"faas.platform={node.platform_id}"]})
    assert node.call("DELETE", "/node/v1/functions/never-there").status_code == 204


def test_drained_it_takes_nothing_new_and_leaves_on_term(node, image):
    rec = record(image)
    assert give(node, rec).status_code == 200
    drained = node.call("POST", "/node/v1/drain")
    assert drained.json() == {"node": "node-a", "draining": True, "inFlight": 0}
    assert node.call("GET", "/healthz").json()["status"] == "draining"
    resp = node.call("POST", "/node/v1/invoke", data=b"e", headers=invoke_headers(rec))
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "NodeDraining"
    conn = redis.Redis.from_url(node.env["FAAS_REDIS_URL"])
    assert json.loads(conn.get(f"{node.prefix}:node:node-a"))["draining"] is True
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(60) == 0
    assert conn.get(f"{node.prefix}:node:node-a") is None
    assert conn.smembers(f"{node.prefix}:nodes") == set()


def test_the_front_ends_view_of_the_nodes(redis_server):
    """Members reads heartbeats from a real Redis: forged and broken ones are ignored, an expired one leaves
    (and its id leaves the set), a draining node stays known but takes no work, a suspect is left out."""
    import asyncio

    import redis.asyncio

    from faas.cluster import members

    prefix = "faas-view-" + uuid.uuid4().hex[:6]

    async def run():
        conn = redis.asyncio.Redis.from_url(redis_server)
        changes = []
        view = members.Members(conn, prefix, on_change=lambda: changes.append(1))
        await members.beat(conn, prefix, NodeInfo("a", "10.0.0.1:8090", free_mb=10))
        await members.beat(conn, prefix, NodeInfo("b", "10.0.0.2:8090", draining=True))
        await conn.set(members.node_key(prefix, "c"), NodeInfo("d", "10.0.0.4:8090").to_json())  # forged id
        await conn.set(members.node_key(prefix, "e"), "{not json")
        await conn.sadd(members.nodes_key(prefix), "c", "e", "gone")
        await view.refresh()
        assert sorted(view.nodes) == ["a", "b"] and [n.id for n in view.live()] == ["a"] and changes == [1]
        assert await conn.sismember(members.nodes_key(prefix), "gone") == 0  # no heartbeat: out of the set
        view.suspect("a")
        assert view.live() == []
        await view.refresh()
        assert changes == [1, 1]  # told at the next read: reserved containers are placed again
        await members.leave(conn, prefix, "a")
        await view.refresh()
        assert sorted(view.nodes) == ["b"] and changes == [1, 1]  # no node taking work, as before
        await conn.aclose()

    asyncio.run(run())
