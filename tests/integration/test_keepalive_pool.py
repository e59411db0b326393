"""The learned keep-alive policy in the real pool: a periodic function is released after each call and pre-warmed
before the next, which finds it warm; the fixed policy keeps its container as before; the decision shows in
/instances and the counts in /metrics."""

import re
import time

import pytest

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

NOOP = "def handler(event, context):\n    return 'ok'\n"
PERIOD_S = 4.0
"""The periodic caller's gap, end of a call to the next: with FAAS_PREWARM_MIN_GAP=1 the policy releases the
container and pre-warms one about 1.9 s after each call (its bin's lower edge, less 2 % and 2 s)."""


def metric(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}{{{re.escape(want)}}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_periodic_function_is_pre_warmed_and_its_next_call_is_warm(start_platform, fn_name):
    plat = start_platform(FAAS_PREWARM_MIN_GAP="1")
    api = plat.api
    api.deploy(fn_name, {"index.py": NOOP})  # keepAlivePolicy: adaptive, the default
    cold = []
    for _ in range(6):  # a call every PERIOD_S: the workload, not a wait
        resp = api.invoke(fn_name)
        assert resp.status_code == 200, resp.text
        cold.append(resp.headers["X-Fc-Cold-Start"] == "true")
        time.sleep(PERIOD_S)
    listed = api.request("GET", f"/v1/functions/{fn_name}/instances").json()
    (decision,) = listed["keepAlive"]
    assert decision["versionId"] == "LATEST" and decision["policy"] == "adaptive"
    assert decision["rule"] == "histogram" and decision["samples"] == 5
    assert 1 < decision["prewarmSeconds"] < PERIOD_S < decision["keepAliveSeconds"] < PERIOD_S * 1.5
    text = api.request("GET", "/metrics").text
    served = metric(text, "faas_prewarms_total", function=fn_name, outcome="served")
    started = sum(metric(text, "faas_container_starts_total", function=fn_name, path=path, reason="prewarm")
                  for path in ("cell", "image"))
    assert served >= 2 and started >= served  # pre-warms served calls
    assert cold[0] and not cold[-1] and not cold[-2]  # the first call is cold; the last ones found a pre-warm
    assert sum(cold) <= 2
    # Between calls the container went: none is kept through the gap, one is started before the next call.
    assert metric(text, "faas_idle_memory_mb_seconds_total", kind="container") > 0


def test_the_fixed_policy_keeps_its_container_through_the_gaps(start_platform, fn_name):
    plat = start_platform(FAAS_PREWARM_MIN_GAP="1")
    api = plat.api
    api.deploy(fn_name, {"index.py": NOOP}, keepAlivePolicy="fixed", keepAliveSeconds=60)
    first = api.invoke(fn_name)
    for _ in range(4):
        time.sleep(2.0)  # the workload: a call every 2 s
        again = api.invoke(fn_name)
        assert again.headers["X-Fc-Cold-Start"] == "false"
        assert again.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    (decision,) = api.request("GET", f"/v1/functions/{fn_name}/instances").json()["keepAlive"]
    assert decision == {"versionId": "LATEST", "policy": "fixed", "keepAliveSeconds": 60.0, "prewarmSeconds": 0.0,
                        "samples": 0, "rule": "fixed"}
    text = api.request("GET", "/metrics").text
    assert metric(text, "faas_prewarms_total", function=fn_name, outcome="served") == 0


def test_switching_the_policy_and_an_explicit_keep_alive_bound_the_window(api, fn_name):
    api.deploy(fn_name, {"index.py": NOOP}, keepAliveSeconds=3)
    for _ in range(4):
        assert api.invoke(fn_name).status_code == 200
    (decision,) = api.request("GET", f"/v1/functions/{fn_name}/instances").json()["keepAlive"]
    assert decision["policy"] == "adaptive" and decision["keepAliveSeconds"] <= 3
    got = api.request("GET", f"/v1/functions/{fn_name}").json()
    assert got["keepAlivePolicy"] == "adaptive" and got["keepAliveSeconds"] == 3
    assert api.update(fn_name, keepAlivePolicy="fixed").status_code == 200
    wait_for(lambda: api.request("GET", f"/v1/functions/{fn_name}/instances").json()["keepAlive"][0]["policy"]
             == "fixed", timeout=30, what="the fixed policy to take over")
    for bad in ("lru", "fixed\n", 7, ["fixed"]):
        resp = api.update(fn_name, keepAlivePolicy=bad)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "InvalidArgument", bad
