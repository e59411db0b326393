"""Function logs: captured from the container, attributed to invocations, bounded, tailed and followed."""

import base64
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
import requests

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

CHATTY = """
import sys, time
def handler(event, context):
    tag = event.decode()
    for i in range(20):
        print(f"{tag} line {i}")
        time.sleep(0.005)
    print(f"{tag} on stderr", file=sys.stderr)
    context.logger.info(f"{tag} via the logger")
    return tag
"""


def invocation_log(api, request_id):
    return wait_for(lambda: (r := api.request("GET", f"/v1/invocations/{request_id}/logs")).status_code == 200
                    and "REPORT RequestId" in r.text and r.text, timeout=15, what="the invocation's log")


def test_tail_header_and_report_line(api, fn_name):
    api.deploy(fn_name, {"index.py": CHATTY}, memoryMB=256)
    resp = api.invoke(fn_name, "first", {"X-Fc-Log-Type": "Tail"})
    assert resp.status_code == 200 and resp.text == "first"
    tail = base64.b64decode(resp.headers["X-Fc-Log-Result"]).decode()
    assert "first line 0" in tail and "first line 19" in tail and "first on stderr" in tail
    assert "first via the logger" in tail
    report = [line for line in tail.splitlines() if line.startswith("REPORT")]
    assert len(report) == 1
    fields = dict(part.split(": ", 1) for part in report[0].split("\t"))
    assert fields["REPORT RequestId"] == resp.headers["X-Fc-Request-Id"]
    assert re.fullmatch(r"\d+\.\d\d ms", fields["Duration"]) and re.fullmatch(r"\d+ ms", fields["Billed Duration"])
    assert float(fields["Duration"][:-3]) <= int(fields["Billed Duration"][:-3])
    assert fields["Memory Size"] == "256 MB" and re.fullmatch(r"\d+ MB", fields["Max Memory Used"])
    assert "Init Duration" in fields  # a cold start
    again = api.invoke(fn_name, "second", {"X-Fc-Log-Type": "Tail"})
    assert "Init Duration" not in base64.b64decode(again.headers["X-Fc-Log-Result"]).decode()
    assert "X-Fc-Log-Result" not in api.invoke(fn_name, "third").headers
    assert api.invoke(fn_name, "x", {"X-Fc-Log-Type": "Everything"}).status_code == 400


def test_logs_of_an_invocation_and_of_a_function(api, fn_name):
    api.deploy(fn_name, {"index.py": CHATTY})
    first = api.invoke(fn_name, "alpha").headers["X-Fc-Request-Id"]
    text = invocation_log(api, first)
    assert text.splitlines()[:2] == ["alpha line 0", "alpha line 1"]
    assert "beta" not in text
    second = api.invoke(fn_name, "beta").headers["X-Fc-Request-Id"]
    invocation_log(api, second)
    lines = api.request("GET", f"/v1/functions/{fn_name}/logs", params={"tail": 1000}).text.splitlines()
    assert f"{first} alpha line 0" in lines and f"{second} beta line 19" in lines
    assert lines.index(f"{first} alpha line 0") < lines.index(f"{second} beta line 0")
    assert len(api.request("GET", f"/v1/functions/{fn_name}/logs", params={"tail": 3}).text.splitlines()) == 3
    assert api.request("GET", "/v1/invocations/not-a-known-id/logs").status_code == 404
    assert api.request("GET", f"/v1/functions/{fn_name}/logs", params={"tail": "x"}).status_code == 400


def test_concurrent_invocations_on_one_container_keep_their_own_lines(api, fn_name):
    api.deploy(fn_name, {"index.py": CHATTY}, instanceConcurrency=4, maxInstances=1)
    api.invoke(fn_name, "warm")
    tags = [f"t{i}" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda tag: api.invoke(fn_name, tag), tags))
    assert len({r.headers["X-Fc-Instance-Id"] for r in responses}) == 1
    for tag, resp in zip(tags, responses):
        text = invocation_log(api, resp.headers["X-Fc-Request-Id"])
        own = [line for line in text.splitlines() if not line.startswith("REPORT")]
        assert sorted(own) == sorted([f"{tag} line {i}" for i in range(20)] + [f"{tag} on stderr"] +
                                     [line for line in own if line.endswith(f"{tag} via the logger")])
        assert all(line.startswith(tag + " ") or f"] {tag} via" in line for line in own), own


def test_a_function_printing_10_mb_is_bounded(api, fn_name, platform):
    api.deploy(fn_name, {"index.py": ("def handler(event, context):\n"
                                      "    for i in range(80000):\n"
                                      "        print('x' * 127)\n"
                                      "    print('x' * 2_000_000)\n"
                                      "    return 'printed'\n")}, timeoutSeconds=120)
    resp = api.invoke(fn_name)
    assert resp.status_code == 200 and resp.text == "printed"
    text = invocation_log(api, resp.headers["X-Fc-Request-Id"])
    assert len(text.encode()) <= 64 * 1024 + 512  # the cap, the truncation line and the REPORT line
    assert "[log truncated" in text and "REPORT RequestId" in text
    conn = redis_lib.Redis.from_url(platform.env["FAAS_REDIS_URL"])
    prefix = platform.env["FAAS_REDIS_PREFIX"]
    assert conn.xlen(f"{prefix}:logs:fn:{fn_name}") <= 6000
    assert conn.memory_usage(f"{prefix}:logs:fn:{fn_name}") < 16 * 1024 * 1024
    assert api.request("GET", "/healthz").status_code == 200
    assert api.invoke(fn_name).text == "printed"  # and it keeps working


def test_follow_streams_new_lines(api, fn_name, platform):
    api.deploy(fn_name, {"index.py": CHATTY})
    api.invoke(fn_name, "before")
    seen: list[str] = []
    stop = threading.Event()

    def follow():
        with requests.get(f"{platform.url}/v1/functions/{fn_name}/logs", params={"follow": "1", "tail": 0},
                          headers=api.http.headers, stream=True, timeout=30) as resp:
            buffer = b""
            for chunk in resp.iter_content(chunk_size=None):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                seen.extend(line.decode() for line in lines)
                if stop.is_set() or any("after via the logger" in line for line in seen):
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    # The follower sends nothing before the invocation: it starts reading at the newest line.
    time.sleep(1.0)
    api.invoke(fn_name, "after")
    thread.join(timeout=20)
    stop.set()
    assert any(line.endswith("after line 0") for line in seen)
    assert not any("before line" in line for line in seen)
