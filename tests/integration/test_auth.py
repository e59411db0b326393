"""Every route, with no token, a wrong one and one whose role may not: 401, 401, 403, the JSON shape."""

import re

import pytest
import redis as redis_lib
import requests

from faas.api import create_app
from faas.auth import platform_secret
from faas.config import Settings
from helpers import Api, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

OPEN = {("GET", "/healthz"), ("GET", "/v1/openapi.json"),
        ("GET", "/console"), ("GET", "/console/"), ("GET", "/console/{path}")}
"""The console's files hold no data: its script asks the API, with the token the user gives it."""
INVOKE = {("POST", "/v1/functions/{name}/invocations"), ("GET", "/v1/invocations/{request_id}"),
          ("GET", "/v1/invocations/{request_id}/logs"), ("POST", "/v1/invocations/{request_id}/stop"),
          ("POST", "/v1/queues/{name}/messages")}
TRIGGERED = {"/function/{name}", "/function/{name}/{tail}"}
"""HTTP trigger routes: who may call them is the trigger's authType (test_http_trigger checks both)."""
SAMPLES = {"name": "some-function", "request_id": "a-request-id", "token_id": "abc123", "trigger": "t1",
           "version_id": "1", "alias": "prod", "path": "console.js", "node": "h1", "key_id": "FK000000000000000000",
           "version": "1"}


def routes():
    """(method, path template) of every route of the app, read from its router."""
    app = create_app(Settings.from_env({}))
    out = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource.canonical in TRIGGERED:
            continue
        out.add((route.method, route.resource.canonical))
    return sorted(out)


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m.group(1)], path)


@pytest.fixture(scope="module")
def invoke_token(platform):
    resp = platform.api.request("POST", "/v1/tokens", json={"role": "invoke", "name": "test-invoker"})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


def assert_error(resp, status, code):
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    assert resp.json()["error"]["code"] == code


@pytest.mark.parametrize("method,path", routes())
def test_every_route_needs_the_right_token(platform, invoke_token, method, path):
    url = platform.url + concrete(path)
    if (method, path) in OPEN:
        assert requests.request(method, url, timeout=30).status_code == 200
        return
    missing = requests.request(method, url, timeout=30)
    assert_error(missing, 401, "Unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(requests.request(method, url, headers={"Authorization": "Bearer faas_admin_wrong"}, timeout=30),
                 401, "Unauthorized")
    assert_error(requests.request(method, url, headers={"Authorization": "Basic dXNlcjpwYXNz"}, timeout=30),
                 401, "Unauthorized")
    as_invoker = requests.request(method, url, headers={"Authorization": f"Bearer {invoke_token}"}, timeout=30)
    if (method, path) in INVOKE:
        assert as_invoker.status_code not in (401, 403), as_invoker.text  # it may pass (and then 404 etc.)
    else:
        assert_error(as_invoker, 403, "Forbidden")


def test_invoke_role_can_invoke_and_read_outcomes(api, platform, invoke_token, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return 'hi'\n"})
    invoker = Api(platform.url, invoke_token)
    assert invoker.invoke(fn_name).text == "hi"
    assert invoker.request("GET", f"/v1/functions/{fn_name}").status_code == 403
    assert invoker.request("DELETE", f"/v1/functions/{fn_name}").status_code == 403


def test_tokens_are_stored_hashed_and_can_be_revoked(api, platform):
    created = api.request("POST", "/v1/tokens", json={"role": "admin", "name": "temporary"}).json()
    secret, token_id = created["token"], created["id"]
    assert secret.startswith("faas_admin_") and created["role"] == "admin"
    listed = api.request("GET", "/v1/tokens").json()["tokens"]
    assert token_id in [t["id"] for t in listed] and all("token" not in t for t in listed)
    conn = redis_lib.Redis.from_url(platform.env["FAAS_REDIS_URL"])
    stored = conn.hgetall(f"{platform.env['FAAS_REDIS_PREFIX']}:tokens")
    assert not any(secret.encode() in k or secret.encode() in v for k, v in stored.items())

    user = Api(platform.url, secret)
    assert user.request("GET", "/v1/functions").status_code == 200
    assert api.request("DELETE", f"/v1/tokens/{token_id}").status_code == 204
    wait_for(lambda: user.request("GET", "/v1/functions").status_code == 401, timeout=30,
             what="the revoked token to stop working")
    assert_error(api.request("DELETE", f"/v1/tokens/{token_id}"), 404, "TokenNotFound")


@pytest.mark.parametrize("body", [{"role": "root", "name": "x"}, {"role": "admin"}, {"role": "admin", "name": ""},
                                  {"role": "invoke", "name": "x", "extra": 1}, ["admin"]])
def test_bad_token_requests(api, body):
    assert_error(api.request("POST", "/v1/tokens", json=body), 400, "InvalidArgument")


def test_containers_never_see_a_token(api, fn_name, platform):
    api.deploy(fn_name, {"index.py": "import os\ndef handler(e, c):\n    return repr(sorted(os.environ.items()))\n"})
    env_dump = api.invoke(fn_name).text
    assert platform.env["FAAS_API_TOKEN"] not in env_dump and "FAAS_" not in env_dump


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_the_scheme_is_case_insensitive(platform, scheme):
    headers = {"Authorization": f"{scheme} {platform.env['FAAS_API_TOKEN']}"}
    assert requests.get(f"{platform.url}/v1/functions", headers=headers, timeout=30).status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer\tx", "Token x"])
def test_malformed_authorization_is_401(platform, header):
    resp = requests.get(f"{platform.url}/v1/functions", headers={"Authorization": header}, timeout=30)
    assert_error(resp, 401, "Unauthorized")


@pytest.mark.parametrize("body", [{"role": "admin\n", "name": "x"}, {"role": "invoke", "name": "x\n"},
                                  {"role": "invoke", "name": "a\x00b"}])
def test_token_fields_with_control_characters_are_refused(api, body):
    assert_error(api.request("POST", "/v1/tokens", json=body), 400, "InvalidArgument")


def test_only_the_platform_speaks_for_the_platform(api, platform, invoke_token, fn_name, redis_server):
    """X-Faas-Trigger (a REPORT line's trigger) and X-Fc-Attempt are the workers' headers: a caller with an invoke
    or admin token cannot set them, nor with a forged platform secret; the platform's own secret can."""
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return 'hi'\n"})
    invoker = Api(platform.url, invoke_token)
    conn = redis_lib.Redis.from_url(redis_server)
    secret = platform_secret(conn, platform.env["FAAS_REDIS_PREFIX"])
    forged = [{"X-Faas-Trigger": "timer/nightly"}, {"X-Fc-Attempt": "2"}, {"X-Fc-Attempt": "1"},
              {"X-Faas-Trigger": "queue/q", "X-Faas-Platform": "guess"},
              {"X-Faas-Trigger": "queue/q", "X-Faas-Platform": secret + "x"},
              {"X-Faas-Trigger": "queue/q", "X-Faas-Platform": secret[:-1]},
              {"X-Faas-Trigger": "queue/q", "X-Faas-Platform": ""}]
    for caller in (invoker, api):
        for headers in forged:
            for kind in ("Sync", "Async"):
                resp = caller.invoke(fn_name, b"x", headers | {"X-Fc-Invocation-Type": kind})
                assert_error(resp, 403, "Forbidden")
                assert "platform" in resp.json()["error"]["message"]
    # The workers' way: the secret from the platform's Redis
    ok = invoker.invoke(fn_name, b"x", {"X-Faas-Trigger": "timer/nightly", "X-Fc-Attempt": "2",
                                        "X-Faas-Platform": secret})
    assert ok.text == "hi", ok.text
    rid = ok.headers["X-Fc-Request-Id"]

    def report():
        text = api.request("GET", f"/v1/functions/{fn_name}/logs").text
        return [line for line in text.splitlines() if "REPORT RequestId:" in line]

    lines = wait_for(report, timeout=30, what="REPORT lines")
    assert len(lines) == 1 and rid in lines[0] and "Trigger: timer/nightly" in lines[0], lines
    conn.close()


def test_the_platform_secret_is_learnt_once_by_calls_that_arrive_together(redis_server):
    """A control plane that has not read the secret yet, asked by many workers' calls at once: all pass (one
    read serves them all), a forged one does not, and a secret made anew after a loss is learnt."""
    import asyncio

    from redis.asyncio import Redis

    from faas.auth import PlatformSecret

    prefix = "faas-secret-test"
    sync = redis_lib.Redis.from_url(redis_server)
    secret = platform_secret(sync, prefix)

    async def main():
        client = Redis.from_url(redis_server)
        checker = PlatformSecret(client, prefix)
        together = await asyncio.gather(*(checker.check(secret) for _ in range(20)))
        forged = await checker.check(secret[:-1] + ("a" if secret[-1] != "a" else "b"))
        sync.delete(f"{prefix}:platform-secret")
        renewed = platform_secret(sync, prefix)
        eager = PlatformSecret(client, prefix, refresh_s=0)
        await eager.check(secret)
        learnt = await eager.check(renewed)
        old = await eager.check(secret)
        await client.aclose()
        return together, forged, learnt, old

    together, forged, learnt, old = asyncio.run(main())
    assert all(together) and not forged and learnt and not old
    sync.delete(f"{prefix}:platform-secret")
    sync.close()
