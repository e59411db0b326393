"""Warm invocations through FC 3.0's InvokeFunction, each request signed with its own nonce, beside the `/v1`
invoke API with a bearer token, in the same run; and what verifying one signature costs in the process."""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path

from multidict import CIMultiDict, CIMultiDictProxy

from faas.signing import Request, acs3
from launch import Up

from .common import deploy
from .wrk import _refuse_errors, requests_per_second, wrk

THREADS = 2
TURNS = 6
"""Pairs of turns (/v1, then FC 3.0): this machine's speed changes from second to second, so the figure is the
median of each pair's ratio (the noise of a moment falls on both sides of a pair)."""
TURN_S_MAX = 4
PER_SECOND_MAX = 15000
"""Requests signed ahead for each second of the run: each is sent once (a nonce is accepted once)."""

_LUA = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local f = assert(io.open(args[1] .. "-" .. tid, "rb"))
  local data = f:read("*a")
  f:close()
  list = {}
  for r in data:gmatch("([^%z]+)%z") do list[#list + 1] = r end
  i = 0
end
function request()
  i = i + 1
  return list[i] or list[#list]
end
"""


def _signed_request(platform: Up, key: tuple[str, str], path: str) -> str:
    """An InvokeFunction request, signed with a nonce of its own."""
    headers = {"host": f"127.0.0.1:{platform.port}", "x-acs-action": "InvokeFunction",
               "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
               "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "x-acs-signature-nonce": uuid.uuid4().hex, "x-acs-version": "2023-03-30"}
    names = tuple(sorted(headers))
    canonical = acs3.canonical_request(Request("POST", path, "", CIMultiDictProxy(CIMultiDict(headers))), names)
    auth = (f"ACS3-HMAC-SHA256 Credential={key[0]},SignedHeaders={';'.join(names)},"
            f"Signature={acs3.sign(canonical, key[1])}")
    lines = [f"POST {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), f"Authorization: {auth}",
             "Content-Length: 0"]
    return "\r\n".join(lines) + "\r\n\r\n"


def _wrk_listed(platform: Up, make: Callable[[], str], seconds: int) -> float:
    """Requests/s of wrk sending requests made ahead by `make`, each once, from a list (each ended by a NUL in the
    file): both sides of the comparison are sent this way, so that wrk's own cost per request (a Lua call) is the
    same for both."""
    with tempfile.TemporaryDirectory(prefix="faas-bench-signed-") as tmp:
        base = Path(tmp) / "requests"
        per_thread = PER_SECOND_MAX * seconds // THREADS
        for tid in range(THREADS):
            Path(f"{base}-{tid}").write_bytes("".join(make() + "\0" for _ in range(per_thread)).encode())
        script = Path(tmp) / "signed.lua"
        script.write_text(_LUA)
        out = subprocess.run(["wrk", "-t", str(THREADS), "-c", "16", "-d", f"{seconds}s", "-s", str(script),
                              platform.url, "--", str(base)], capture_output=True, text=True, check=True).stdout
    _refuse_errors(out)
    return requests_per_second(out)


def _verify_cost_us() -> float:
    """One signature read and checked (no Redis): the SDK's own vector, verified in a loop."""
    headers = CIMultiDict({"host": "127.0.0.1:8080", "x-acs-action": "InvokeFunction",
                           "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
                           "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "x-acs-signature-nonce": "n" * 32, "x-acs-version": "2023-03-30"})
    names = tuple(sorted(headers))
    path = "/2023-03-30/functions/f/invocations"
    canonical = acs3.canonical_request(Request("POST", path, "", CIMultiDictProxy(headers)), names)
    headers["Authorization"] = (f"ACS3-HMAC-SHA256 Credential=FK000000000000000000,SignedHeaders={';'.join(names)},"
                                f"Signature={acs3.sign(canonical, 'S' * 30)}")
    request = Request("POST", path, "", CIMultiDictProxy(headers))

    def verify() -> None:
        from datetime import datetime, timezone
        acs3.check(request, acs3.read(request, datetime.now(timezone.utc)), "S" * 30)

    rounds = 20_000
    return min(timeit.repeat(verify, number=rounds, repeat=3)) / rounds * 1e6


def _invoke_key(platform: Up) -> tuple[str, str]:
    resp = platform.http.post(f"{platform.url}/v1/access-keys", json={"role": "invoke", "name": "bench"})
    resp.raise_for_status()
    return resp.json()["accessKeyId"], resp.json()["accessKeySecret"]


def _bearer_request(platform: Up, name: str, body: str = "") -> str:
    return (f"POST /v1/functions/{name}/invocations HTTP/1.1\r\nHost: 127.0.0.1:{platform.port}\r\n"
            f"Authorization: Bearer {platform.token}\r\nContent-Length: {len(body)}\r\n\r\n{body}")


def _pairs(platform: Up, name: str, baseline: Callable[[], str], side: Callable[[], str],
           seconds: int) -> tuple[int, list[tuple[float, float]]]:
    """TURNS alternated turns of (`baseline`, `side`) requests/s, after a warm-up; and the turns' length."""
    wrk(f"{platform.url}/v1/functions/{name}/invocations", 16, 2, {"Authorization": f"Bearer {platform.token}"})
    turn_s = max(1, min(seconds, TURN_S_MAX))
    pairs = []
    for _ in range(TURNS):
        v1 = _wrk_listed(platform, baseline, turn_s)
        pairs.append((v1, _wrk_listed(platform, side, turn_s)))
    return turn_s, pairs


def _report(title: str, side: str, turn_s: int, pairs: list[tuple[float, float]]) -> None:
    ratios = sorted(other / v1 for v1, other in pairs)
    print(f"{title}, wrk, 16 connections, {TURNS} pairs of {turn_s} s turns")
    v1, other = statistics.median(v1 for v1, _ in pairs), statistics.median(o for _, o in pairs)
    print(f"  /v1 {v1:7.0f} req/s   |   {side} {other:7.0f} req/s (medians)   |   "
          f"{statistics.median(ratios) * 100:.0f}% of /v1, the median of the pairs' ratios (they ranged "
          f"{ratios[0] * 100:.0f}-{ratios[-1] * 100:.0f}%; target: >= 85%)")


def bench_signed(platform: Up, seconds: int) -> None:
    name = "bench-signed"
    deploy(platform, name, instanceConcurrency=16, maxInstances=1)
    key = _invoke_key(platform)
    bearer = _bearer_request(platform, name)
    fc3_path = f"/2023-03-30/functions/{name}/invocations"
    turn_s, pairs = _pairs(platform, name, lambda: bearer, lambda: _signed_request(platform, key, fc3_path), seconds)
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    _report("Signed invocations: FC 3.0 InvokeFunction (ACS3, a nonce each) beside /v1 (bearer)", "FC 3.0", turn_s,
            pairs)
    print(f"  one signature read and checked in the process: {_verify_cost_us():.1f} us (cpu {os.cpu_count()})")


def _boto3_invoke(platform: Up, key: tuple[str, str], name: str, payload: bytes) -> str:
    """The request boto3 sends for Invoke (signed by botocore, as it sends it), as raw HTTP. SigV4 has no nonce:
    the same request may be sent again while its date is within 15 minutes, as a client's retry would be."""
    import boto3
    from botocore.config import Config

    client = boto3.client("lambda", endpoint_url=platform.url, region_name="us-east-1", aws_access_key_id=key[0],
                          aws_secret_access_key=key[1], config=Config(retries={"total_max_attempts": 1}))
    sent: dict = {}
    client.meta.events.register("before-send.lambda.Invoke", lambda request, **_: sent.update(
        url=request.url, headers=dict(request.headers), body=request.body))
    client.invoke(FunctionName=name, Payload=payload)
    path = sent["url"].split(str(platform.port), 1)[1]
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in sent["headers"].items()}
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{platform.port}", *(f"{k}: {v}" for k, v in headers.items()
                                                                          if k.lower() != "host")]
    body = sent["body"] if isinstance(sent["body"], bytes) else (sent["body"] or b"")
    return "\r\n".join(lines) + "\r\n\r\n" + body.decode()


def bench_lambda(platform: Up, seconds: int) -> None:
    name = "bench-lambda"
    deploy(platform, name, instanceConcurrency=16, maxInstances=1)
    key = _invoke_key(platform)
    bearer, signed = _bearer_request(platform, name, "{}"), _boto3_invoke(platform, key, name, b"{}")
    turn_s, pairs = _pairs(platform, name, lambda: bearer, lambda: signed, seconds)
    platform.http.delete(f"{platform.url}/v1/functions/{name}")
    _report("Signed invocations: Lambda's Invoke as boto3 sends it (SigV4, payload {}) beside /v1 (bearer, the same "
            "payload)", "Lambda", turn_s, pairs)
