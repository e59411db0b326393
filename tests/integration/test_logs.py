"""Function logs: captured from the container, attributed to invocations, bounded, tailed and followed."""

import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
import requests

from helpers import wait_for, wait_repeating

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


def invocation_log(api, request_id, has=()):
    """The invocation's log once its REPORT line is there, and each line of `has`: Docker copies stdout and stderr
    apart, so a line printed to stderr before the End marker (on stdout) may be read after the REPORT line came
    (the collector then puts it before that line: test_a_line_read_after_its_end_marker_goes_before_the_report_line)."""
    def seen() -> str:
        resp = api.request("GET", f"/v1/invocations/{request_id}/logs")
        return f"{resp.status_code} {resp.text[-2000:]!r}"

    return wait_for(lambda: (r := api.request("GET", f"/v1/invocations/{request_id}/logs")).status_code == 200
                    and "REPORT RequestId" in r.text and all(line in r.text for line in has) and r.text,
                    timeout=30, what=f"the log of {request_id}", detail=seen)


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
        text = invocation_log(api, resp.headers["X-Fc-Request-Id"], has=[f"{tag} on stderr"])
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
    _settled(conn, f"{prefix}:logs:fn:{fn_name}")  # the next tests' logs are not behind this flood


def test_follow_streams_new_lines(api, fn_name, platform):
    api.deploy(fn_name, {"index.py": CHATTY})
    invocation_log(api, api.invoke(fn_name, "before").headers["X-Fc-Request-Id"])  # all of it written first
    seen: list[str] = []
    sent: list[str] = []
    stop = threading.Event()

    def follow():
        with requests.get(f"{platform.url}/v1/functions/{fn_name}/logs", params={"follow": "1", "tail": 0},
                          headers=api.http.headers, stream=True, timeout=30) as resp:
            buffer = b""
            for chunk in resp.iter_content(chunk_size=None):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                seen.extend(line.decode() for line in lines)
                if stop.is_set() or _whole_calls(seen) & set(sent):
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()

    def call() -> None:
        sent.append(f"after{len(sent)}")
        api.invoke(fn_name, sent[-1])

    # The follower sends nothing before an invocation, and reads from the newest line when it connects: calls
    # until it has seen one of them whole.
    wait_repeating(call, lambda: _whole_calls(list(seen)) & set(sent), what="the follower to see a whole call")
    thread.join(timeout=30)
    stop.set()
    assert not any("before line" in line for line in seen), seen


def _whole_calls(lines: list[str]) -> set[str]:
    """The events of CHATTY's calls whose first and last lines are both among `lines`."""
    firsts = {line.split()[-3] for line in lines if line.endswith(" line 0")}
    return firsts & {line.split()[-4] for line in lines if line.endswith(" via the logger")}


def _settled(conn, stream: str, quiet_s: float = 1.5, timeout: float = 60) -> None:
    """Wait until nothing has been added to `stream` for `quiet_s` seconds: the collector has caught up."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        newest = conn.xrevrange(stream, count=1)
        if newest != last:
            last, since = newest, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)


def _redis(platform):
    return redis_lib.Redis.from_url(platform.env["FAAS_REDIS_URL"]), platform.env["FAAS_REDIS_PREFIX"]


def _invocation_keys(platform) -> set[bytes]:
    conn, prefix = _redis(platform)
    return set(conn.scan_iter(f"{prefix}:logs:inv:*", count=1000))


FORGER = """
import os, uuid
def handler(event, context):
    target = event.decode()
    if target == "flood":  # written past the runtime, which would tag them with this invocation's id
        for _ in range(2000):
            os.write(1, f"{uuid.uuid4()} forged line\\n".encode())
        return "flooded"
    print(f"{target} forged into your log")
    print(f"FC Invoke End RequestId: {target}")
    os.write(1, f"{target} forged through the file descriptor\\n".encode())
    return "forged"
"""


def test_a_function_cannot_write_into_other_invocations_logs(api, fn_name, platform):
    """Tags count only for request ids the control plane runs on that container: a flood of made-up ids
    makes no keys, and another invocation's id (even with an End marker) adds nothing to its log."""
    victim = fn_name + "-v"
    api.deploy(victim, {"index.py": CHATTY})
    api.deploy(fn_name, {"index.py": FORGER})
    rid = api.invoke(victim, "victim").headers["X-Fc-Request-Id"]
    before = invocation_log(api, rid)
    keys_before = _invocation_keys(platform)
    assert api.invoke(fn_name, "flood").text == "flooded"
    forged = api.invoke(fn_name, rid)
    assert forged.text == "forged"
    # The forger's call's log complete (its REPORT line comes after its End marker) and its last line written:
    # the collector has written all it would of what the forger printed.
    invocation_log(api, forged.headers["X-Fc-Request-Id"])
    last = f"- {rid} forged through the file descriptor"  # the container's own, untagged output
    lines = wait_for(lambda: last in (ls := api.request("GET", f"/v1/functions/{fn_name}/logs",
                                                        params={"tail": 3000}).text.splitlines()) and ls,
                     timeout=30, what="the forger's last line")
    assert api.request("GET", f"/v1/invocations/{rid}/logs").text == before
    assert len(_invocation_keys(platform) - keys_before) <= 2  # the forger's own invocations, nothing else
    assert sum(1 for line in lines if line.startswith("- ") and line.endswith(" forged line")) == 2000


BACKGROUND = """
import threading, time
def handler(event, context):
    if event == b"start":
        def chatter():
            for i in range(40):
                print(f"background {i}")
                time.sleep(0.05)
        threading.Thread(target=chatter, daemon=True).start()
        return "started"
    print("own line")
    time.sleep(0.5)
    return "ok"
"""


def test_output_of_a_background_thread_is_not_the_next_invocations(api, fn_name):
    api.deploy(fn_name, {"index.py": BACKGROUND})
    api.invoke(fn_name, "start")
    resp = api.invoke(fn_name, "next", {"X-Fc-Log-Type": "Tail"})
    tail = base64.b64decode(resp.headers["X-Fc-Log-Result"]).decode()
    assert "own line" in tail and "background" not in tail
    text = invocation_log(api, resp.headers["X-Fc-Request-Id"])
    assert "background" not in text and text.splitlines()[0] == "own line"


def test_quiet_invocations_keep_no_key_of_their_own(api, fn_name, platform):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return 'quiet'\n"})
    keys_before = _invocation_keys(platform)
    rids = [api.invoke(fn_name).headers["X-Fc-Request-Id"] for _ in range(50)]
    tail = api.invoke(fn_name, "", {"X-Fc-Log-Type": "Tail"})
    assert base64.b64decode(tail.headers["X-Fc-Log-Result"]).decode().startswith(
        f"REPORT RequestId: {tail.headers['X-Fc-Request-Id']}\t")
    # An observation window, not a wait: nothing these calls print could show the collector has read past them.
    time.sleep(0.5)
    assert _invocation_keys(platform) == keys_before
    found = api.request("GET", f"/v1/invocations/{rids[7]}/logs", params={"function": fn_name})
    assert found.status_code == 200 and found.text.startswith(f"REPORT RequestId: {rids[7]}\t")
    assert api.request("GET", f"/v1/invocations/{rids[7]}/logs").status_code == 404
    assert api.request("GET", f"/v1/invocations/{rids[7]}/logs", params={"function": "Bad\n"}).status_code == 400


def test_logs_stay_within_their_budget(start_platform, fn_name):
    """FAAS_LOG_FUNCTION_MB and FAAS_LOG_MAX_MB bound what logs take in Redis, whatever functions print."""
    platform = start_platform(FAAS_LOG_FUNCTION_MB="1", FAAS_LOG_MAX_MB="1.5")
    api = platform.api
    code = {"index.py": "def handler(e, c):\n    for i in range(8):\n        print(str(i) * 1000)\n    return 'ok'\n"}
    names = [fn_name + "-a", fn_name + "-b"]
    for name in names:
        api.deploy(name, code, instanceConcurrency=8)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: api.invoke(names[i % 2]).text, range(600)))
    conn, prefix = _redis(platform)

    def usage():
        streams = sum(conn.memory_usage(f"{prefix}:logs:fn:{n}", samples=0) or 0 for n in names)
        return streams + sum(int(v) for v in conn.hvals(f"{prefix}:logs:usage"))

    wait_for(lambda: usage() <= 1.5 * (1 << 20), timeout=60, what="logs to be trimmed to FAAS_LOG_MAX_MB")
    for name in names:
        assert conn.llen(f"{prefix}:logs:index:{name}") < 300
        kept = [e.decode().split()[0] for e in conn.lrange(f"{prefix}:logs:index:{name}", -3, -1)]
        assert all(api.request("GET", f"/v1/invocations/{rid}/logs").status_code == 200 for rid in kept)


def _collector_pid(platform) -> int:
    out = subprocess.run(["pgrep", "-P", str(platform.proc.pid), "-f", "faas.logs"], capture_output=True, text=True)
    return int(out.stdout.split()[0]) if out.stdout.split() else 0


def test_lines_printed_while_the_collector_is_down_are_not_lost(start_platform, fn_name):
    platform = start_platform()
    api = platform.api
    api.deploy(fn_name, {"index.py": CHATTY})
    api.invoke(fn_name, "warm")
    old = _collector_pid(platform)
    os.kill(old, signal.SIGKILL)
    rids = [api.invoke(fn_name, f"gap{i}").headers["X-Fc-Request-Id"] for i in range(3)]
    wait_for(lambda: _collector_pid(platform) not in (0, old), timeout=60, what="a new collector")
    for i, rid in enumerate(rids):
        text = invocation_log(api, rid, has=[f"gap{i} on stderr"])
        assert f"gap{i} line 0" in text and f"gap{i} line 19" in text and f"gap{i} on stderr" in text
    # Resumed where the old collector stopped: nothing it had written is written again.
    lines = api.request("GET", f"/v1/functions/{fn_name}/logs", params={"tail": 1000}).text.splitlines()
    assert sum(1 for line in lines if line.endswith(" warm line 0")) == 1


def test_a_graceful_stop_writes_every_log_first(start_platform, fn_name):
    platform = start_platform()
    api = platform.api
    api.deploy(fn_name, {"index.py": CHATTY}, maxInstances=4)
    with ThreadPoolExecutor(4) as pool:
        rids = [r.headers["X-Fc-Request-Id"] for r in pool.map(lambda i: api.invoke(fn_name, f"s{i}"), range(8))]
    assert platform.stop() == 0
    conn, prefix = _redis(platform)
    for i, rid in enumerate(rids):
        lines = [line.decode() for line in conn.lrange(f"{prefix}:logs:inv:{rid}", 0, -1)]
        assert f"s{i} line 19" in lines and lines[-1].startswith(f"REPORT RequestId: {rid}\t"), lines


def test_a_follow_stream_ends_whole_when_the_control_plane_stops(start_platform, fn_name):
    """A TERM ends an open follow stream with its last chunk: aiohttp would wait 10 s for it, then cut it off."""
    platform = start_platform()
    api = platform.api
    api.deploy(fn_name, {"index.py": CHATTY})
    with requests.get(f"{platform.url}/v1/functions/{fn_name}/logs", params={"follow": "1", "tail": 0},
                      headers=api.http.headers, stream=True, timeout=60) as resp:
        assert resp.status_code == 200
        # (Its head arrived: the server is in its follow loop.)
        assert platform.stop() == 0
        assert b"".join(resp.iter_content(chunk_size=None)) == b""  # a clean end: no ChunkedEncodingError
    assert "broke off" not in platform.log()


def test_a_report_made_while_a_flush_awaits_redis_is_sent_too(redis_server):
    """REPORT lines go to Redis in batches, one flush at a time: a report made while that flush waits for Redis
    is sent by it, not left until the next invocation's report (it once was: a call's log stayed without its
    REPORT line on a quiet platform)."""
    import asyncio

    from redis.asyncio import Redis

    from faas.config import Settings
    from faas.logs.reports import LogChannel

    async def scenario() -> list[bytes]:
        settings = Settings(redis_url=redis_server, redis_prefix="faas-flush-" + uuid.uuid4().hex[:8])
        conn = Redis.from_url(redis_server)
        channel = LogChannel(settings, conn)
        channel.report("first", "f", 1.0, 128, 20, None, quiet=False, final=False)
        # (The batch taken and the flush waiting for Redis: no report pending, the task not done.)
        while channel._pending or channel._task is None:
            await asyncio.sleep(0)
        assert not channel._task.done()
        channel.report("second", "f", 1.0, 128, 20, None, quiet=False, final=False)
        deadline = time.monotonic() + 10
        while await conn.llen(channel.keys.reports) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        items = await conn.lrange(channel.keys.reports, 0, -1)
        await conn.aclose()
        return items

    items = asyncio.run(scenario())
    assert [json.loads(item)["rid"] for item in items] == ["first", "second"]


def test_quiet_report_lines_reach_their_streams_in_one_call_in_order(redis_server):
    """Quiet invocations' REPORT lines go straight to their functions' streams (one script call a flush, each
    stream's TTL set), in the order they were made, with the version that ran; the others go to the collector's
    queue. Hostile-looking lines (a newline, quotes, 10,000 characters) are stored as they are."""
    import asyncio

    from redis.asyncio import Redis

    from faas.config import Settings
    from faas.logs.reports import LogChannel

    async def scenario():
        settings = Settings(redis_url=redis_server, redis_prefix="faas-quiet-" + uuid.uuid4().hex[:8], log_ttl=600)
        conn = Redis.from_url(redis_server)
        channel = LogChannel(settings, conn)
        for i in range(300):
            channel.report(f"r-{i}", "f" if i % 2 else "g", 1.0, 128, 20, None, quiet=True, final=False,
                           trigger="http/web\n\"x\"" if i == 7 else None, version="3" if i % 3 == 0 else "LATEST")
        channel.report("loud", "f", 1.0, 128, 20, None, quiet=False, final=False)
        channel.report("gone", "f", 1.0, 128, 20, None, quiet=True, final=True)
        await channel.flush()
        streams = {fn: await conn.xrange(channel.keys.function(fn)) for fn in ("f", "g")}
        ttls = [await conn.ttl(channel.keys.function(fn)) for fn in ("f", "g")]
        queued = [json.loads(item) for item in await conn.lrange(channel.keys.reports, 0, -1)]
        await conn.aclose()
        return streams, ttls, queued

    streams, ttls, queued = asyncio.run(scenario())
    for fn, parity in (("f", 1), ("g", 0)):
        rows = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in streams[fn]]
        assert [r["rid"] for r in rows] == [f"r-{i}" for i in range(300) if i % 2 == parity]
        for row in rows:
            i = int(row["rid"][2:])
            assert row["line"].startswith(f"REPORT RequestId: r-{i}\t")
            assert row.get("ver") == ("3" if i % 3 == 0 else None)
    assert any(r[1][b"line"].endswith(b'Trigger: http/web\n"x"') for r in streams["f"])
    assert all(0 < ttl <= 600 for ttl in ttls)
    assert [(q["rid"], q["final"]) for q in queued] == [("loud", False), ("gone", True)]


def test_a_line_read_after_its_end_marker_goes_before_the_report_line(redis_server):
    """Docker copies stdout and stderr apart: a line printed to stderr before the End marker may be read
    after it, once the REPORT line closed the log. It still goes into the log, and REPORT stays last."""
    from faas.config import Settings
    from faas.defaults import LOG_INVOCATION_BYTES
    from faas.logs.collector import TRUNCATED, LogCollector

    prefix = "faas-late-" + uuid.uuid4().hex[:8]
    collector = LogCollector(Settings(redis_url=redis_server, redis_prefix=prefix))
    cid, rid, now = "c0ffee000001", "late-rid-1", time.time()
    for notice in (f"+{cid} {rid}", f"-{cid} {rid}"):
        collector.attribution.apply(notice)
    report = json.dumps({"rid": rid, "function": "f", "final": False, "line": f"REPORT RequestId: {rid}\tx"})
    collector.write([(cid, "f", "t1", f"{rid} on stdout"), (cid, "f", "t2", f"FC Invoke End RequestId: {rid}")],
                    [report.encode()], now)
    collector.write([(cid, "f", "t3", f"{rid} on stderr")], [], now)
    conn = redis_lib.Redis.from_url(redis_server)
    key = f"{prefix}:logs:inv:{rid}"
    assert [line.decode() for line in conn.lrange(key, 0, -1)] == ["on stdout", "on stderr",
                                                                  f"REPORT RequestId: {rid}\tx"]
    # Late lines count against the same bound as the lines before the end: a flood of them is cut.
    flood, big = "x" * 1000, "late-rid-2"
    for notice in (f"+{cid} {big}", f"-{cid} {big}"):
        collector.attribution.apply(notice)
    many = LOG_INVOCATION_BYTES // 1000 - 4  # nearly the whole bound before the end
    collector.write([(cid, "f", f"u{i}", f"{big} {flood}") for i in range(many)]
                    + [(cid, "f", "u-end", f"FC Invoke End RequestId: {big}")],
                    [json.dumps({"rid": big, "function": "f", "final": False, "line": f"REPORT RequestId: {big}"})
                     .encode()], now)
    collector.write([(cid, "f", f"v{i}", f"{big} {flood}") for i in range(many)], [], now)
    lines = [line.decode() for line in conn.lrange(f"{prefix}:logs:inv:{big}", 0, -1)]
    assert sum(len(line) + 1 for line in lines[:-2]) <= LOG_INVOCATION_BYTES, len(lines)
    assert lines[-2:] == [TRUNCATED.format(LOG_INVOCATION_BYTES), f"REPORT RequestId: {big}"]
    collector.store.redis.close()
    conn.close()


def test_a_report_line_that_comes_after_its_containers_stream_ended_still_ends_the_log(redis_server):
    """The control plane sends REPORT lines apart from the containers' output: a container stopped right
    after an invocation ends its stream (End marker read) before that invocation's REPORT line is here."""
    from faas.config import Settings
    from faas.logs.collector import LogCollector

    prefix = "faas-gone-" + uuid.uuid4().hex[:8]
    collector = LogCollector(Settings(redis_url=redis_server, redis_prefix=prefix))
    cid, now = "c0ffee000002", time.time()
    ended, held = "gone-rid-1", "gone-rid-2"  # End marker read before the stream ended; End marker lost
    for rid in (ended, held):
        collector.attribution.apply(f"+{cid} {rid}")
        collector.attribution.apply(f"-{cid} {rid}")
    collector.write([(cid, "f", "t1", f"{ended} printed"), (cid, "f", "t2", f"FC Invoke End RequestId: {ended}"),
                     (cid, "f", "t3", f"{held} printed"), (cid, "f", None, cid + "0" * 52)], [], now)
    assert not collector.attribution.owns(cid, ended)  # the stream's end was taken in
    reports = [json.dumps({"rid": rid, "function": "f", "final": False, "line": f"REPORT RequestId: {rid}"})
               .encode() for rid in (ended, held)]
    collector.write([], reports, now + 1)
    collector.write([], [], now + 2, flush_all=True)
    conn = redis_lib.Redis.from_url(redis_server)
    for rid in (ended, held):
        assert [line.decode() for line in conn.lrange(f"{prefix}:logs:inv:{rid}", 0, -1)] == \
            ["printed", f"REPORT RequestId: {rid}"]
    collector.store.redis.close()
    conn.close()
