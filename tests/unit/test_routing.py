"""Pure parts of running past one host: rendezvous ranking, heartbeats as read from Redis, node settings, and
how a front end reads a node's answers."""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest

from faas import errors
from faas.cluster import rendezvous
from faas.cluster.errors import ImageMissing, NodeDraining, ReleaseUnknown, by_code
from faas.cluster.members import NodeInfo
from faas.cluster.node_api import node_error as _node_error
from faas.cluster.remote import _outcome
from faas.config import Settings


def nodes(*ids: str, **free) -> list[NodeInfo]:
    return [NodeInfo(id=i, address=f"10.0.0.{n}:8090", free_mb=free.get(i, 0)) for n, i in enumerate(ids, 1)]


KEYS = [f"fn-{i}@LATEST" for i in range(3000)]


def test_the_ranking_is_the_same_whatever_order_the_nodes_come_in():
    a, b = nodes("h1", "h2", "h3"), list(reversed(nodes("h1", "h2", "h3")))
    assert all([n.id for n in rendezvous.rank(k, a)] == [n.id for n in rendezvous.rank(k, b)] for k in KEYS[:200])


def test_a_release_is_held_by_the_top_of_its_ranking_and_by_nodes_that_run_it():
    all_nodes = nodes("h1", "h2", "h3", "h4")
    ranked = rendezvous.rank("fn@LATEST", all_nodes)
    assert rendezvous.holders("fn@LATEST", all_nodes, 2) == ranked[:2]
    ranked[3].pools["fn@LATEST"] = (1, 0)  # the last of its ranking still has containers of it
    assert rendezvous.holders("fn@LATEST", all_nodes, 2) == ranked[:2] + [ranked[3]]
    assert [rendezvous.is_home("fn@LATEST", n, all_nodes) for n in ranked] == [True, False, False, False]
    assert not rendezvous.is_home("fn@LATEST", ranked[0], [])


def test_homes_spread_evenly():
    homes = Counter(rendezvous.rank(k, nodes("h1", "h2", "h3"))[0].id for k in KEYS)
    assert set(homes) == {"h1", "h2", "h3"}
    assert all(800 <= count <= 1200 for count in homes.values()), homes


def test_a_node_that_leaves_moves_only_its_own_functions_and_one_that_joins_takes_a_share():
    three, two = nodes("h1", "h2", "h3"), nodes("h1", "h3")
    before = {k: rendezvous.rank(k, three)[0].id for k in KEYS}
    after = {k: rendezvous.rank(k, two)[0].id for k in KEYS}
    moved = [k for k in KEYS if before[k] != after[k]]
    assert moved and all(before[k] == "h2" for k in moved)
    assert len(moved) == sum(1 for k in KEYS if before[k] == "h2")
    # A fourth node takes about a quarter, each from the node it was home on.
    four = nodes("h1", "h2", "h3", "h4")
    taken = [k for k in KEYS if rendezvous.rank(k, four)[0].id != before[k]]
    assert all(rendezvous.rank(k, four)[0].id == "h4" for k in taken)
    assert 600 <= len(taken) <= 900


def test_a_node_with_an_idle_warm_container_comes_first_then_the_ranking():
    three = nodes("h1", "h2", "h3")
    ranked = [n.id for n in rendezvous.rank("f@LATEST", three)]
    last = ranked[-1]
    assert [n.id for n in rendezvous.order("f@LATEST", three, {last: 1})] == [last] + ranked[:-1]
    assert [n.id for n in rendezvous.order("f@LATEST", three, {last: 0})] == ranked
    assert [n.id for n in rendezvous.order("f@LATEST", three, {})] == ranked


def test_the_least_loaded_node_has_the_most_free_memory_then_the_fewest_calls():
    assert rendezvous.least_loaded(nodes("a", "b", "c", b=900, c=100)).id == "b"
    tied = [NodeInfo("a", "x:1", free_mb=5, busy=3), NodeInfo("b", "x:1", free_mb=5, busy=1)]
    assert rendezvous.least_loaded(tied).id == "b"


def test_a_heartbeat_reads_back():
    info = NodeInfo(id="h1", address="10.0.0.1:8090", budget_mb=3072, free_mb=2048, busy=2, draining=True,
                    pools={"f@LATEST": (1, 0), "g@3": (0, 2)})
    assert NodeInfo.from_json(info.to_json()) == info


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[]", b"{}", json.dumps({"id": "h1"}).encode(),
    json.dumps({"id": "H1", "address": "a:1"}).encode(), json.dumps({"id": "h1\n", "address": "a:1"}).encode(),
    json.dumps({"id": "h" * 64, "address": "a:1"}).encode(), json.dumps({"id": 7, "address": "a:1"}).encode(),
    json.dumps({"id": "h1", "address": "a"}).encode(), json.dumps({"id": "h1", "address": "a:1\n"}).encode(),
    json.dumps({"id": "h1", "address": "a:0"}).encode(), json.dumps({"id": "h1", "address": "a:1/x"}).encode(),
    json.dumps({"id": "h1", "address": "a:1", "pools": {"f@LATEST": "x"}}).encode(),
    json.dumps({"id": "h1", "address": "a:1", "pools": {"f@LATEST": [1]}}).encode(),
    json.dumps({"id": "h1", "address": "a:1", "pools": []}).encode(),
    json.dumps({"id": "h1", "address": "a:1", "freeMB": "lots"}).encode(),
])
def test_a_forged_or_broken_heartbeat_is_not_a_node(raw):
    with pytest.raises(ValueError):
        NodeInfo.from_json(raw)


def test_node_settings():
    env = {"FAAS_ROLE": "node", "FAAS_NODE_TOKEN": "t" * 16, "FAAS_HOST": "10.0.0.5", "FAAS_PORT": "8090",
           "FAAS_NODE_ID": "host-5.dc1", "FAAS_REGISTRY": "10.0.0.1:5000", "FAAS_IMAGE_COPIES": "3"}
    s = Settings.from_env(env)
    assert (s.role, s.node_address, s.node_id, s.registry, s.image_copies) == \
        ("node", "10.0.0.5:8090", "host-5.dc1", "10.0.0.1:5000", 3)
    assert Settings.from_env({}).role == "all" and Settings.from_env({}).node_token == ""


def test_a_node_on_every_address_finds_its_own_on_the_way_to_redis():
    from faas.cluster.node import own_address

    s = Settings.from_env({"FAAS_ROLE": "node", "FAAS_NODE_TOKEN": "t" * 16, "FAAS_HOST": "0.0.0.0"})
    assert s.node_address == ""  # faas-node fills it in at start
    assert own_address(s) == "127.0.0.1"  # FAAS_REDIS_URL's default server is on loopback
    sentinels = Settings.from_env({"FAAS_REDIS_SENTINELS": "127.0.0.2:26379"})
    assert own_address(sentinels) == "127.0.0.1"


def test_the_node_token_from_a_file(tmp_path):
    secret = tmp_path / "node-token"
    secret.write_text("s3cret-node-token-value\n")
    assert Settings.from_env({"FAAS_NODE_TOKEN_FILE": str(secret)}).node_token == "s3cret-node-token-value"


@pytest.mark.parametrize("env, match", [
    ({"FAAS_ROLE": "worker"}, "FAAS_ROLE"),
    ({"FAAS_ROLE": "node\n", "FAAS_NODE_TOKEN": "t" * 16}, "FAAS_ROLE"),
    ({"FAAS_ROLE": "frontend"}, "needs FAAS_NODE_TOKEN"),
    ({"FAAS_NODE_TOKEN": "short"}, "16-256"),
    ({"FAAS_NODE_TOKEN": "has a space in it ok"}, "16-256"),
    ({"FAAS_NODE_TOKEN": "t" * 16 + "\n" + "u"}, "16-256"),
    ({"FAAS_NODE_TOKEN": "é" * 20}, "16-256"),
    ({"FAAS_NODE_ADDRESS": "10.0.0.1"}, "FAAS_NODE_ADDRESS"),
    ({"FAAS_NODE_ADDRESS": "10.0.0.1:99999"}, "FAAS_NODE_ADDRESS"),
    ({"FAAS_NODE_ADDRESS": "10.0.0.1:80\n"}, "FAAS_NODE_ADDRESS"),
    ({"FAAS_NODE_ADDRESS": "http://10.0.0.1:80"}, "FAAS_NODE_ADDRESS"),
    ({"FAAS_NODE_ID": "Host1"}, "FAAS_NODE_ID"),
    ({"FAAS_NODE_ID": "h1\n"}, "FAAS_NODE_ID"),
    ({"FAAS_NODE_ID": "h" * 64}, "FAAS_NODE_ID"),
    ({"FAAS_NODE_ID": "-h"}, "FAAS_NODE_ID"),
    ({"FAAS_REGISTRY": "registry"}, "FAAS_REGISTRY"),
    ({"FAAS_REGISTRY": "10.0.0.1:5000/path"}, "FAAS_REGISTRY"),
    ({"FAAS_IMAGE_COPIES": "0"}, "FAAS_IMAGE_COPIES"),
    ({"FAAS_IMAGE_COPIES": "17"}, "FAAS_IMAGE_COPIES"),
])
def test_bad_node_settings_are_refused(env, match):
    with pytest.raises(ValueError, match=match):
        Settings.from_env(env)


def test_a_node_error_becomes_the_error_it_names():
    def answer(code: str, message: str = "m") -> bytes:
        return json.dumps({"error": {"code": code, "message": message}}).encode()

    assert isinstance(_node_error(429, answer("TooManyRequests")), errors.TooManyRequests)
    assert isinstance(_node_error(404, answer("FunctionNotFound")), errors.FunctionNotFound)
    assert isinstance(_node_error(409, answer("ReleaseUnknown")), ReleaseUnknown)
    assert isinstance(_node_error(409, answer("ImageMissing")), ImageMissing)
    assert isinstance(_node_error(503, answer("NodeDraining")), NodeDraining)
    # The front end's own mistakes with a node, an unknown code, or no error document: 503, never passed on.
    for status, body in ((401, answer("Unauthorized")), (400, answer("InvalidArgument")), (500, answer("Nope")),
                         (502, b"<html>"), (500, b'{"error": 1}'), (500, b"")):
        error = _node_error(status, body)
        assert type(error) is errors.ServiceUnavailable and "node" in error.message
    assert by_code("NoSuchCode") is errors.FaasError and by_code("ServiceUnavailable") is errors.ServiceUnavailable


def test_an_outcome_from_a_node_answer():
    report = "REPORT RequestId: r\tDuration: 1.00 ms"
    outcome = _outcome({"content-type": "text/plain", "x-faas-cold-start": "1", "x-faas-instance": "abc",
                        "x-faas-report": base64.b64encode(report.encode()).decode(), "x-faas-quiet": "1",
                        "x-faas-error": "UnhandledInvocationError", "x-faas-error-type": "Boom"}, b"body")
    assert (outcome.body, outcome.content_type, outcome.cold_start, outcome.instance_id, outcome.report,
            outcome.quiet, outcome.error, outcome.error_type) == \
        (b"body", "text/plain", True, "abc", report, True, "UnhandledInvocationError", "Boom")
    plain = _outcome({"x-faas-report": "%%%not base64"}, b"")
    assert plain.report == "" and plain.error is None and not plain.cold_start
