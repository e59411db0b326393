"""Versions, aliases and qualifiers with real containers, Redis and workers: publish, invoke by version and
alias, weighted splits, reserved containers that follow an alias, async events that keep their version,
triggers bound to an alias, delete order, and hostile input on every new surface."""

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]


def code(tag: str) -> dict[str, str]:
    """A function that answers `tag` (and its event)."""
    return {"index.py": f"def handler(event, context):\n    return '{tag}:' + event.decode()\n"}


def publish(api, name, description="") -> str:
    resp = api.request("POST", f"/v1/functions/{name}/versions", json={"description": description})
    assert resp.status_code == 201, resp.text
    assert resp.headers["Location"] == f"/v1/functions/{name}/versions/{resp.json()['versionId']}"
    return resp.json()["versionId"]


def set_alias(api, name, alias, version, weight=None, create=True):
    body = {"versionId": version, "additionalVersionWeight": weight or {}}
    if create:
        resp = api.request("POST", f"/v1/functions/{name}/aliases", json={"aliasName": alias, **body})
        assert resp.status_code == 201, resp.text
    else:
        resp = api.request("PUT", f"/v1/functions/{name}/aliases/{alias}", json=body)
        assert resp.status_code == 200, resp.text
    return resp.json()


def invoke(api, name, qualifier=None, event=b"x", headers=None):
    return api.request("POST", f"/v1/functions/{name}/invocations", data=event, headers=headers or {},
                       params={"qualifier": qualifier} if qualifier else None)


def error_code(resp):
    return resp.json()["error"]["code"]


def test_publish_list_get_delete_and_their_conflicts(api, fn_name):
    api.deploy(fn_name, code("one"))
    assert publish(api, fn_name, "first") == "1"
    again = api.request("POST", f"/v1/functions/{fn_name}/versions")
    assert again.status_code == 409 and error_code(again) == "NothingToPublish"
    # Only what a version runs counts: reserved containers are not part of it.
    assert api.update(fn_name, reservedInstances=0, description="same code").status_code == 200
    assert publish(api, fn_name) == "2"
    assert api.update(fn_name, code("two")).status_code == 200
    assert publish(api, fn_name, "second") == "3"

    listed = api.request("GET", f"/v1/functions/{fn_name}/versions").json()
    assert [v["versionId"] for v in listed["versions"]] == ["3", "2", "1"] and listed["nextToken"] is None
    page = api.request("GET", f"/v1/functions/{fn_name}/versions", params={"limit": 2}).json()
    assert [v["versionId"] for v in page["versions"]] == ["3", "2"] and page["nextToken"] == "1"
    rest = api.request("GET", f"/v1/functions/{fn_name}/versions", params={"limit": 2, "nextToken": "1"}).json()
    assert [v["versionId"] for v in rest["versions"]] == ["1"] and rest["nextToken"] is None
    one = api.request("GET", f"/v1/functions/{fn_name}/versions/1").json()
    assert one["description"] == "first" and one["revision"] == 1 and one["config"]["handler"] == "index.handler"
    assert api.request("GET", f"/v1/functions/{fn_name}").json()["revision"] == 3

    # Versions keep their code (their image) while LATEST moves on.
    assert invoke(api, fn_name, "1").text == "one:x"
    assert invoke(api, fn_name, "3").text == "two:x"
    assert invoke(api, fn_name).text == "two:x"
    assert invoke(api, fn_name, "LATEST").headers["X-Fc-Function-Version"] == "LATEST"

    set_alias(api, fn_name, "prod", "1")
    busy = api.request("DELETE", f"/v1/functions/{fn_name}/versions/1")
    assert busy.status_code == 409 and error_code(busy) == "ResourceInUse" and "alias prod" in busy.text
    assert api.request("DELETE", f"/v1/functions/{fn_name}/aliases/prod").status_code == 204
    assert api.request("DELETE", f"/v1/functions/{fn_name}/versions/1").status_code == 204
    gone = api.request("GET", f"/v1/functions/{fn_name}/versions/1")
    assert gone.status_code == 404 and error_code(gone) == "VersionNotFound"
    assert invoke(api, fn_name, "1").status_code == 404
    assert api.request("DELETE", f"/v1/functions/{fn_name}/versions/1").status_code == 404
    # Ids are never given twice.
    assert api.update(fn_name, code("three")).status_code == 200
    assert publish(api, fn_name) == "4"


def test_version_images_stay_while_their_versions_exist(api, platform, docker_client, fn_name):
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    first_image = api.request("GET", f"/v1/functions/{fn_name}/versions/1").json()["image"]
    two = api.update(fn_name, code("two"))
    assert two.status_code == 200

    def image_exists(image=first_image):
        try:
            docker_client.images.get(image)
            return True
        except Exception:
            return False

    # LATEST's update would have removed the old image; version 1 still runs it. The image of "two", which
    # no version runs, goes with the next update: the clean-up ran (it runs after each update).
    assert api.update(fn_name, code("three")).status_code == 200
    wait_for(lambda: not image_exists(two.json()["image"]), timeout=60, what="the image no version runs to go")
    assert image_exists()
    assert invoke(api, fn_name, "1").text == "one:x"
    assert api.request("DELETE", f"/v1/functions/{fn_name}/versions/1").status_code == 204
    wait_for(lambda: not image_exists(), timeout=60, what="the deleted version's image to go")
    assert invoke(api, fn_name).text == "three:x"


def test_invoke_by_version_and_alias_names_the_version(api, fn_name):
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    publish(api, fn_name)
    set_alias(api, fn_name, "prod", "1")
    resp = invoke(api, fn_name, "prod")
    assert resp.status_code == 200 and resp.text == "one:x" and resp.headers["X-Fc-Function-Version"] == "1"
    moved = set_alias(api, fn_name, "prod", "2", create=False)
    assert moved["previousVersionId"] == "1"
    resp = invoke(api, fn_name, "prod")
    assert resp.text == "two:x" and resp.headers["X-Fc-Function-Version"] == "2"
    # Versions share nothing: each has its own containers.
    ids = {invoke(api, fn_name, q).headers["X-Fc-Instance-Id"] for q in ("1", "2", "LATEST")}
    assert len(ids) == 3
    listed = api.request("GET", f"/v1/functions/{fn_name}/instances", params={"qualifier": "prod"}).json()
    assert listed["versionIds"] == ["2"] and {i["versionId"] for i in listed["instances"]} == {"2"}
    latest = api.request("GET", f"/v1/functions/{fn_name}/instances").json()
    assert {i["versionId"] for i in latest["instances"]} == {"LATEST"}
    aliases = api.request("GET", f"/v1/functions/{fn_name}/aliases").json()["aliases"]
    assert [(a["aliasName"], a["versionId"]) for a in aliases] == [("prod", "2")]


def test_weighted_split_stays_within_bounds(api, fn_name):
    api.deploy(fn_name, code("one"), maxInstances=4)
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    publish(api, fn_name)
    set_alias(api, fn_name, "canary", "1", weight={"2": 0.1})
    session = requests.Session()
    session.headers.update(api.http.headers)

    def one(_):
        resp = session.post(f"{api.base}/v1/functions/{fn_name}/invocations?qualifier=canary", data=b"x", timeout=60)
        assert resp.status_code == 200, resp.text
        assert resp.text == ("two:x" if resp.headers["X-Fc-Function-Version"] == "2" else "one:x")
        return resp.headers["X-Fc-Function-Version"]

    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(one, range(2000)))
    share = versions.count("2") / len(versions)
    # 2,000 draws at p = 0.1: the standard deviation is 0.0067, so this is 4.5 of them on either side.
    assert set(versions) == {"1", "2"} and 0.07 <= share <= 0.13, share


def test_alias_move_with_reserved_instances_is_warm(api, fn_name):
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    publish(api, fn_name)
    set_alias(api, fn_name, "prod", "1")
    resp = api.request("PUT", f"/v1/functions/{fn_name}/provision-config", params={"qualifier": "prod"},
                       json={"target": 2})
    assert resp.status_code == 200 and resp.json()["target"] == 2, resp.text

    def reserved(version):
        listed = api.request("GET", f"/v1/functions/{fn_name}/instances", params={"qualifier": version}).json()
        return [i for i in listed["instances"] if i["reserved"] and i["state"] == "Ready"]

    wait_for(lambda: len(reserved("1")) == 2, timeout=60, what="two reserved containers of version 1")
    assert api.request("GET", f"/v1/functions/{fn_name}/provision-config",
                       params={"qualifier": "prod"}).json()["current"] == 2
    set_alias(api, fn_name, "prod", "2", create=False)  # answers once version 2's containers are ready
    first = invoke(api, fn_name, "prod")
    assert first.headers["X-Fc-Function-Version"] == "2" and first.headers["X-Fc-Cold-Start"] == "false"
    assert len(reserved("2")) == 2
    # Version 1's containers are ordinary ones now, reclaimed after their keep-alive.
    listed = api.request("GET", f"/v1/functions/{fn_name}/instances", params={"qualifier": "1"}).json()
    assert listed["instances"] and not any(i["reserved"] for i in listed["instances"])
    # Rolling back moves it to the version before, warm again.
    back = api.request("PUT", f"/v1/functions/{fn_name}/aliases/prod", json={"versionId": "1"})
    assert back.json()["previousVersionId"] == "2"
    assert invoke(api, fn_name, "prod").headers["X-Fc-Cold-Start"] == "false"
    assert api.request("DELETE", f"/v1/functions/{fn_name}/provision-config",
                       params={"qualifier": "prod"}).status_code == 204
    wait_for(lambda: not reserved("1"), timeout=60, what="the reserved containers to be released")


def test_trigger_bound_to_an_alias(api, platform, fn_name):
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    set_alias(api, fn_name, "stable", "1")
    missing = api.request("POST", f"/v1/functions/{fn_name}/triggers", json={
        "triggerName": "web", "triggerType": "http", "qualifier": "nope", "triggerConfig": {"authType": "anonymous"}})
    assert missing.status_code == 404 and error_code(missing) == "AliasNotFound"
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers", json={
        "triggerName": "web", "triggerType": "http", "qualifier": "stable",
        "triggerConfig": {"authType": "anonymous"}})
    assert resp.status_code == 201 and resp.json()["qualifier"] == "stable", resp.text
    through = requests.get(f"{platform.url}/function/{fn_name}/", timeout=60)
    assert through.status_code == 200 and through.headers["X-Fc-Function-Version"] == "1"
    assert through.text.startswith("one:")
    busy = api.request("DELETE", f"/v1/functions/{fn_name}/aliases/stable")
    assert busy.status_code == 409 and "trigger web" in busy.text
    busy = api.request("DELETE", f"/v1/functions/{fn_name}/versions/1")
    assert busy.status_code == 409 and "alias stable" in busy.text
    # The trigger may move to a version directly, then the alias may go, but not the version.
    moved = api.request("PUT", f"/v1/functions/{fn_name}/triggers/web", json={"qualifier": "1"})
    assert moved.status_code == 200 and moved.json()["qualifier"] == "1"
    assert api.request("DELETE", f"/v1/functions/{fn_name}/aliases/stable").status_code == 204
    busy = api.request("DELETE", f"/v1/functions/{fn_name}/versions/1")
    assert busy.status_code == 409 and "trigger web" in busy.text
    bad = api.request("PUT", f"/v1/functions/{fn_name}/triggers/web", json={"qualifier": "9"})
    assert bad.status_code == 404 and error_code(bad) == "VersionNotFound"
    # Deleting the function takes its versions, aliases and triggers with it.
    assert api.delete(fn_name).status_code == 204
    assert api.request("GET", f"/v1/functions/{fn_name}/versions").status_code == 404
    api.deploy(fn_name, code("again"))
    assert api.request("GET", f"/v1/functions/{fn_name}/versions").json()["versions"] == []
    assert publish(api, fn_name) == "1"
    assert invoke(api, fn_name, "1").text == "again:x"


BAD_QUALIFIERS = ["", "1x", "01", "0", "a b", "LATEST\n", "prod\n", "x" * 129, "-a", "é", "1" * 11]


def test_hostile_qualifiers_versions_and_aliases(api, fn_name):
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    for q in BAD_QUALIFIERS:
        resp = invoke(api, fn_name, q) if q else api.request(
            "POST", f"/v1/functions/{fn_name}/invocations?qualifier=", data=b"x")
        assert resp.status_code == 400 and error_code(resp) == "InvalidArgument", (q, resp.text)
        for path in ("instances", "provision-config", "async-invoke-config"):
            resp = api.request("GET", f"/v1/functions/{fn_name}/{path}", params={"qualifier": q})
            assert resp.status_code == 400, (path, q, resp.text)
    assert error_code(invoke(api, fn_name, "nope")) == "AliasNotFound"
    assert error_code(invoke(api, fn_name, "7")) == "VersionNotFound"
    assert error_code(invoke(api, "no-such-function", "1")) == "FunctionNotFound"
    for vid in ("0", "01", "abc", "1 ", "1\n", "99999999999"):
        for method in ("GET", "DELETE"):
            resp = api.request(method, f"/v1/functions/{fn_name}/versions/{quote(vid)}")
            assert resp.status_code == 400, (method, vid, resp.text)
    for alias in ("LATEST", "latest", "7", "a b", "prod\n", "x" * 129, "-a"):
        for method, body in (("GET", None), ("PUT", {"versionId": "1"}), ("DELETE", None)):
            resp = api.request(method, f"/v1/functions/{fn_name}/aliases/{quote(alias)}", json=body)
            assert resp.status_code == 400 and error_code(resp) == "InvalidArgument", (method, alias, resp.text)
    bad_bodies = [
        [], "x", {"aliasName": "LATEST", "versionId": "1"}, {"aliasName": "latest", "versionId": "1"},
        {"aliasName": "7", "versionId": "1"}, {"aliasName": "a", "versionId": 1},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": {"2": 1.5}},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": {"2": True}},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": {"2": float("nan")}},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": {"1": 0.5}},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": {"2": 0.1, "3": 0.1}},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": {"x": 0.1}},
        {"aliasName": "a", "versionId": "1", "additionalVersionWeight": [0.1]},
        {"aliasName": "a", "versionId": "1", "extra": 1},
        {"aliasName": "a\n", "versionId": "1"}, {"aliasName": "a", "versionId": "1\n"},
        {"aliasName": "a", "versionId": "1", "description": "d" * 257},
    ]
    for body in bad_bodies:  # NaN goes as JSON's extension, which Python's parser on the other side reads
        resp = api.request("POST", f"/v1/functions/{fn_name}/aliases", data=json.dumps(body),
                           headers={"Content-Type": "application/json"})
        assert resp.status_code == 400 and error_code(resp) == "InvalidArgument", (body, resp.text)
    missing = api.request("POST", f"/v1/functions/{fn_name}/aliases", json={"aliasName": "a", "versionId": "5"})
    assert missing.status_code == 404 and error_code(missing) == "VersionNotFound"
    set_alias(api, fn_name, "a", "1")
    dup = api.request("POST", f"/v1/functions/{fn_name}/aliases", json={"aliasName": "a", "versionId": "1"})
    assert dup.status_code == 409 and error_code(dup) == "AliasAlreadyExists"
    rename = api.request("PUT", f"/v1/functions/{fn_name}/aliases/a", json={"aliasName": "b"})
    assert rename.status_code == 400
    assert api.request("PUT", f"/v1/functions/{fn_name}/aliases/zzz", json={"versionId": "1"}).status_code == 404
    for body in ({"description": "x" * 300}, {"extra": True}, "text"):
        resp = api.request("POST", f"/v1/functions/{fn_name}/versions", json=body)
        assert resp.status_code == 400, (body, resp.text)
    for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"nextToken": "abc"}, {"nextToken": "1\n"}):
        resp = api.request("GET", f"/v1/functions/{fn_name}/versions", params=params)
        assert resp.status_code == 400, (params, resp.text)
    for body in ({"target": -1}, {"target": 1.5}, {"target": True}, {"target": 11}, {}, {"target": 1, "x": 1}):
        resp = api.request("PUT", f"/v1/functions/{fn_name}/provision-config", params={"qualifier": "a"}, json=body)
        assert resp.status_code == 400, (body, resp.text)
    resp = api.request("PUT", f"/v1/functions/{fn_name}/async-invoke-config", params={"qualifier": "a"},
                       json={"onSuccess": "http://evil"})
    assert resp.status_code == 400
    forged = api.request("POST", f"/v1/functions/{fn_name}/triggers", json={
        "triggerName": "t", "triggerType": "http", "qualifier": "1\n"})
    assert forged.status_code == 400
    for i in range(49):  # 50 aliases at most ("a" is the first)
        set_alias(api, fn_name, f"many{i}", "1")
    over = api.request("POST", f"/v1/functions/{fn_name}/aliases", json={"aliasName": "one-more", "versionId": "1"})
    assert over.status_code == 409 and error_code(over) == "AliasLimitExceeded"


def test_provision_config_on_latest_is_reserved_instances(api, fn_name):
    api.deploy(fn_name, code("one"))
    warm = invoke(api, fn_name).headers["X-Fc-Instance-Id"]
    resp = api.request("PUT", f"/v1/functions/{fn_name}/provision-config", json={"target": 1})
    assert resp.status_code == 200 and resp.json()["qualifier"] == "LATEST", resp.text
    assert api.request("GET", f"/v1/functions/{fn_name}").json()["reservedInstances"] == 1
    # A new revision that changes only what the pool reads keeps the container: it becomes the reserved one.
    assert resp.json()["current"] == 1
    again = invoke(api, fn_name)
    assert again.headers["X-Fc-Instance-Id"] == warm and again.headers["X-Fc-Cold-Start"] == "false"
    # One that changes what the container is told replaces it.
    assert api.update(fn_name, environment={"A": "1"}).status_code == 200
    wait_for(lambda: api.request("GET", f"/v1/functions/{fn_name}/provision-config").json()["current"] == 1,
             timeout=60, what="LATEST's new reserved container")
    assert invoke(api, fn_name).headers["X-Fc-Instance-Id"] != warm
    assert api.request("DELETE", f"/v1/functions/{fn_name}/provision-config").status_code == 204
    assert api.request("GET", f"/v1/functions/{fn_name}").json()["reservedInstances"] == 0


FAILS_IN_V1 = {"index.py": "def handler(event, context):\n    raise RuntimeError('v1 failed')\n"}


def test_async_event_keeps_the_version_its_alias_named_when_accepted(async_stack, fn_name):
    api = async_stack[0].api
    api.deploy(fn_name, FAILS_IN_V1)
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    publish(api, fn_name)
    set_alias(api, fn_name, "prod", "1")
    queue = f"{fn_name}-dlq"
    resp = api.request("PUT", f"/v1/functions/{fn_name}/async-invoke-config", params={"qualifier": "prod"},
                       json={"retries": 2, "onFailure": f"queue:{queue}"})
    assert resp.status_code == 200 and resp.json()["source"] == "qualifier", resp.text
    accepted = invoke(api, fn_name, "prod", headers={"X-Fc-Invocation-Type": "Async"})
    assert accepted.status_code == 202 and accepted.headers["X-Fc-Function-Version"] == "1"
    request_id = accepted.json()["requestId"]
    set_alias(api, fn_name, "prod", "2", create=False)  # moves while the event is retried

    def ended():
        record = api.request("GET", f"/v1/invocations/{request_id}").json()
        return record if record["status"] in ("succeeded", "failed") else None

    record = wait_for(ended, timeout=60, what="the async event to end")
    assert record["status"] == "failed" and record["condition"] == "RetriesExhausted"
    assert record["attempts"] == 3 and record["qualifier"] == "prod" and record["versionId"] == "1"
    assert "v1 failed" in record["lastError"]["errorMessage"]
    sent = api.request("GET", f"/v1/queues/{queue}/messages").json()["messages"]
    assert [m["record"]["requestContext"]["requestId"] for m in sent] == [request_id]
    # After the move, the alias's events run version 2, whose own settings apply (none: its published ones).
    after = invoke(api, fn_name, "prod", event=b"y", headers={"X-Fc-Invocation-Type": "Async"})
    assert after.headers["X-Fc-Function-Version"] == "2"
    record = wait_for(lambda: (r := api.request("GET", f"/v1/invocations/{after.json()['requestId']}").json())
                      ["status"] == "succeeded" and r, timeout=60, what="the second event")
    assert record["result"] == "two:y" and record["versionId"] == "2"


def printing(tag: str) -> dict[str, str]:
    return {"index.py": f"def handler(event, context):\n    print('printed by {tag}')\n    return '{tag}'\n"}


def test_logs_of_a_qualifier(api, fn_name):
    api.deploy(fn_name, printing("one"))
    publish(api, fn_name)
    api.update(fn_name, printing("two"))
    set_alias(api, fn_name, "prod", "1")
    invoke(api, fn_name, "prod")
    invoke(api, fn_name)

    def logs(**params):
        resp = api.request("GET", f"/v1/functions/{fn_name}/logs", params=params)
        assert resp.status_code == 200, resp.text
        return resp.text

    wait_for(lambda: "printed by one" in logs() and "printed by two" in logs(), timeout=30, what="both logs")
    of_prod = logs(qualifier="prod")
    assert "printed by one" in of_prod and "printed by two" not in of_prod and "REPORT" in of_prod
    of_latest = logs(qualifier="LATEST")
    assert "printed by two" in of_latest and "printed by one" not in of_latest
    assert api.request("GET", f"/v1/functions/{fn_name}/logs", params={"qualifier": "x\n"}).status_code == 400
    assert api.request("GET", f"/v1/functions/{fn_name}/logs", params={"qualifier": "nope"}).status_code == 404


def test_timer_and_queue_triggers_run_their_qualifier_with_its_async_settings(async_stack, fn_name):
    api = async_stack[0].api
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    done = f"{fn_name}-done"
    resp = api.request("PUT", f"/v1/functions/{fn_name}/async-invoke-config", params={"qualifier": "1"},
                       json={"onSuccess": f"queue:{done}"})
    assert resp.status_code == 200 and resp.json()["source"] == "qualifier"
    assert api.request("GET", f"/v1/functions/{fn_name}/async-invoke-config").json()["source"] == "function"
    for body in ({"triggerName": "tick", "triggerType": "timer", "qualifier": "1",
                  "triggerConfig": {"cronExpression": "@every 1s", "payload": "t"}},
                 {"triggerName": "jobs", "triggerType": "queue", "qualifier": "1",
                  "triggerConfig": {"queueName": f"{fn_name}-in"}}):
        resp = api.request("POST", f"/v1/functions/{fn_name}/triggers", json=body)
        assert resp.status_code == 201, resp.text
    assert api.request("POST", f"/v1/queues/{fn_name}-in/messages", data=b"m").status_code == 201

    def results():
        sent = api.request("GET", f"/v1/queues/{done}/messages", params={"count": 1000}).json()["messages"]
        return [m["record"]["responsePayload"] for m in sent]

    wait_for(lambda: any("queueName" in r for r in results()) and any("triggerTime" in r for r in results()),
             timeout=60, what="a timer and a queue event of version 1 to reach its onSuccess queue")
    # Version 1's code ran (LATEST's would answer "two:"), and only version 1 has that destination.
    assert all(r.startswith("one:") for r in results())
    api.delete(fn_name)


def test_a_function_cannot_forge_the_version_header(api, platform, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(event, context):\n    return {'statusCode': 200, "
                                     "'headers': {'X-Fc-Function-Version': '99'}, 'body': 'x'}\n"})
    publish(api, fn_name)
    resp = api.request("POST", f"/v1/functions/{fn_name}/triggers", json={
        "triggerName": "web", "triggerType": "http", "qualifier": "1", "triggerConfig": {"authType": "anonymous"}})
    assert resp.status_code == 201
    through = requests.get(f"{platform.url}/function/{fn_name}", timeout=60)
    assert through.status_code == 200 and through.headers["X-Fc-Function-Version"] == "1"


def test_restart_adopts_the_reserved_containers_of_a_version(start_platform, docker_client, fn_name):
    plat = start_platform()
    api = plat.api
    api.deploy(fn_name, code("one"))
    publish(api, fn_name)
    api.update(fn_name, code("two"))
    set_alias(api, fn_name, "prod", "1")
    api.request("PUT", f"/v1/functions/{fn_name}/provision-config", params={"qualifier": "prod"},
                json={"target": 1}).raise_for_status()

    def reserved():
        listed = api.request("GET", f"/v1/functions/{fn_name}/instances", params={"qualifier": "prod"}).json()
        return [i["instanceId"] for i in listed["instances"] if i["reserved"] and i["state"] == "Ready"]

    (before,) = wait_for(reserved, timeout=60, what="version 1's reserved container")
    plat.kill()  # a crash: the container stays, labelled with its version
    plat.start()
    assert reserved() == [before]
    resp = invoke(api, fn_name, "prod")
    assert resp.headers["X-Fc-Instance-Id"] == before and resp.headers["X-Fc-Cold-Start"] == "false"
    assert resp.text == "one:x"
