"""A soak: the platform as scripts/up runs it, under mixed load, with a fault every so often in rotation; then a
check that every accepted event and message ended as its rules say, that no container or cell was left, and
that memory came back.

Load (threads, each bounded in count and time, all on loopback): sync calls over three functions; async events
to a function that succeeds, one that fails its first attempt and one that always fails (retries 1), with
queue destinations; messages published to a queue with a queue trigger; requests through an HTTP trigger.

Faults, in rotation: a worker process SIGKILLed, the control plane SIGKILLed, the log collector SIGKILLed, a
function container killed, Redis restarted (TERM: its AOF is fsynced), a worker process stopped for a while.
Each kind happens at least once, however short the run.

    scripts/soak [--minutes N] [--fault-every SECONDS]      # exit 0: nothing lost, nothing leaked
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import docker
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]
from benchmarks.common import deploy, wait_until  # noqa: E402  (scripts/ and tests/ are not packages)

from launch import Up  # noqa: E402

SETTINGS = {"FAAS_SYSTEM_RETRY_MAX_WAIT": "5", "FAAS_AUDIT_INTERVAL": "5", "FAAS_WORKER_LEASE": "10"}
"""Shorter waits than the defaults, so that what a fault interrupts ends within the check's bounds."""
STOPPED_S = float(SETTINGS["FAAS_WORKER_LEASE"]) + 5
"""How long a stopped worker stays stopped: past its lease, so that its events are taken from it meanwhile."""

ECHO = "def handler(event, context):\n    return event\n"
FLAKY = ("def handler(event, context):\n"
         "    if context.attempt == 1:\n"
         "        raise RuntimeError('the first attempt fails')\n"
         "    return event\n")
FAIL = "def handler(event, context):\n    raise ValueError('always')\n"
CONSUMER = "import json\ndef handler(event, context):\n    return [m['body'] for m in json.loads(event)]\n"
WEB = ("def handler(event, context):\n"
       "    return {'statusCode': 200, 'headers': {'Content-Type': 'text/plain'}, 'body': 'web ok'}\n")


class Load:
    """The load's threads and what they saw: every accepted async event and message, and the failures."""

    def __init__(self, platform: Up):
        self.platform = platform
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.accepted: dict[str, str] = {}
        """requestId -> the function it went to."""
        self.messages: list[str] = []
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.sync, self.sync, self.events, self.publish, self.web)]

    def _session(self) -> requests.Session:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {self.platform.token}"
        return http

    def _count(self, kind: str, ok: bool, why: str = "") -> None:
        with self.lock:
            self.calls[kind] += 1
            if not ok:
                self.failures[f"{kind}: {why}"[:120]] += 1

    def sync(self) -> None:
        http, url = self._session(), self.platform.url
        for i in itertools.count():
            if self.stop.is_set():
                return
            try:
                resp = http.post(f"{url}/v1/functions/soak-echo-{i % 3}/invocations", data=str(i), timeout=60)
                self._count("sync", resp.text == str(i), f"{resp.status_code} {resp.text[:60]}")
            except requests.RequestException as exc:
                self._count("sync", False, type(exc).__name__)

    def _post(self, kind: str, http: requests.Session, url: str, status: int, **kw) -> requests.Response | None:
        """One POST of the load, counted; its answer when it had `status`."""
        try:
            resp = http.post(url, timeout=30, **kw)
        except requests.RequestException as exc:
            self._count(kind, False, type(exc).__name__)
            return None
        self._count(kind, resp.status_code == status, f"{resp.status_code} {resp.text[:60]}")
        return resp if resp.status_code == status else None

    def events(self) -> None:
        http, url = self._session(), self.platform.url
        for i in itertools.count():
            if self.stop.wait(0.05):
                return
            name = ("soak-ok", "soak-flaky", "soak-fail")[i % 3]
            resp = self._post("async", http, f"{url}/v1/functions/{name}/invocations", 202, data=f"event {i}",
                              headers={"X-Fc-Invocation-Type": "Async"})
            if resp is not None:
                with self.lock:
                    self.accepted[resp.json()["requestId"]] = name

    def publish(self) -> None:
        http, url = self._session(), self.platform.url
        for i in itertools.count():
            if self.stop.wait(0.05):
                return
            if self._post("publish", http, f"{url}/v1/queues/soak-in/messages", 201, data=f"message {i}") is not None:
                with self.lock:
                    self.messages.append(f"message {i}")

    def web(self) -> None:
        http, url = requests.Session(), self.platform.url
        while not self.stop.wait(0.02):
            try:
                resp = http.get(f"{url}/function/soak-web", timeout=60)
                self._count("web", resp.text == "web ok", f"{resp.status_code} {resp.text[:60]}")
            except requests.RequestException as exc:
                self._count("web", False, type(exc).__name__)


class Faults:
    """One fault at a time, in rotation; each says what it did."""

    def __init__(self, platform: Up, client: docker.DockerClient):
        self.platform, self.client = platform, client
        # The stopped worker first: it stays stopped for STOPPED_S while the others happen, rather than holding up
        # the platform's stop at the end of a short run.
        self.kinds = [self.stop_worker, self.kill_worker, self.kill_control_plane, self.kill_collector,
                      self.kill_container, self.restart_redis]

    def _children(self, pid: int) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill_worker(self) -> str:
        workers = self.platform.workers()[1:]
        if not workers:
            return "no worker process to kill"
        os.kill(workers[0], signal.SIGKILL)
        return f"worker process {workers[0]} SIGKILLed"

    def kill_control_plane(self) -> str:
        pid = self.platform.child("faas.server")
        if not pid:  # (0 would signal this whole process group)
            return "no control plane to kill (it is starting again)"
        os.kill(pid, signal.SIGKILL)
        return f"control plane {pid} SIGKILLed"

    def kill_collector(self) -> str:
        server = self.platform.child("faas.server")
        if not server:
            return "no control plane, so no log collector to kill"
        out = subprocess.run(["pgrep", "-P", str(server), "-f", "faas.logs.collector"], capture_output=True,
                             text=True).stdout.split()
        if not out:
            return "no log collector to kill"
        os.kill(int(out[0]), signal.SIGKILL)
        return f"log collector {out[0]} SIGKILLed"

    def kill_container(self) -> str:
        found = self.client.containers.list(filters={"label": [f"faas.platform={self.platform.platform_id}",
                                                                "faas.role=function"]})
        if not found:
            return "no function container to kill"
        found[0].kill()
        return f"function container {found[0].short_id} killed"

    def restart_redis(self) -> str:
        pid = self.platform.child("redis-server")
        if not pid:
            return "no Redis to restart (it is starting again)"
        os.kill(pid, signal.SIGTERM)
        return f"Redis {pid} stopped (TERM); faas-up starts it again"

    def stop_worker(self) -> str:
        workers = self.platform.workers()[1:]
        if not workers:
            return "no worker process to stop"
        os.kill(workers[-1], signal.SIGSTOP)
        threading.Timer(STOPPED_S, lambda: _cont(workers[-1])).start()
        return f"worker process {workers[-1]} stopped for {STOPPED_S:g} s"


def say(text: str) -> None:
    """One line of the soak's progress, with the time of day."""
    print(f"soak: {time.strftime('%H:%M:%S')} {text}", flush=True)


def _cont(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def set_up(platform: Up) -> None:
    for i in range(3):
        deploy(platform, f"soak-echo-{i}", ECHO)
    deploy(platform, "soak-ok", ECHO, **{"async": {"onSuccess": "queue:soak-done", "retries": 0}})
    deploy(platform, "soak-flaky", FLAKY, **{"async": {"onSuccess": "queue:soak-done", "retries": 2}})
    deploy(platform, "soak-fail", FAIL, **{"async": {"onFailure": "queue:soak-dead", "retries": 1}})
    deploy(platform, "soak-consumer", CONSUMER, **{"async": {"onSuccess": "queue:soak-consumed"}})
    deploy(platform, "soak-web", WEB)
    http = platform.http
    for name, kind, config in (("soak-consumer", "queue", {"queueName": "soak-in", "batchSize": 5}),
                               ("soak-web", "http", {"authType": "anonymous"})):
        resp = http.post(f"{platform.url}/v1/functions/{name}/triggers",
                         json={"triggerName": "soak", "triggerType": kind, "triggerConfig": config})
        resp.raise_for_status()


def read_queue(platform: Up, name: str) -> list[dict]:
    out: list[dict] = []
    after = None
    while True:
        params = {"count": 1000} | ({"after": after} if after else {})
        page = platform.http.get(f"{platform.url}/v1/queues/{name}/messages", params=params, timeout=30).json()
        if not page["messages"]:
            return out
        out += page["messages"]
        after = page["next"]


def control_plane_rss_mb(platform: Up) -> float:
    wait_until(lambda: platform.child("faas.server"), 60, "the control plane")
    with open(f"/proc/{platform.child('faas.server')}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def check(platform: Up, load: Load, drain_s: float) -> list[str]:
    """What broke the rules: an accepted event that did not end as its function's rules say, or whose outcome
    is missing from its destination; an accepted message no invocation got."""
    problems = []
    expected = {"soak-ok": "succeeded", "soak-flaky": "succeeded", "soak-fail": "failed"}
    pending = dict(load.accepted)
    deadline = time.monotonic() + drain_s
    ended: dict[str, dict] = {}
    while pending and time.monotonic() < deadline:
        for rid in list(pending)[:200]:
            try:
                record = platform.http.get(f"{platform.url}/v1/invocations/{rid}", timeout=30).json()
            except requests.RequestException:
                continue
            if record.get("status") in ("succeeded", "failed"):
                ended[rid] = record
                del pending[rid]
        time.sleep(0.5)
    say(f"{len(ended)} of {len(load.accepted)} events ended")
    problems += [f"event {rid} ({name}) never ended" for rid, name in pending.items()]
    for rid, record in ended.items():
        if record["status"] != expected[load.accepted[rid]]:
            problems.append(f"event {rid} ({load.accepted[rid]}) ended {record['status']}: {record.get('lastError')}")
    done = Counter(m["record"]["requestContext"]["requestId"] for m in read_queue(platform, "soak-done"))
    dead = Counter(m["record"]["requestContext"]["requestId"] for m in read_queue(platform, "soak-dead"))
    for rid, name in load.accepted.items():
        if (done if name != "soak-fail" else dead)[rid] == 0 and rid in ended:
            problems.append(f"event {rid} ({name}): no record in its destination queue")

    def missing() -> set[str]:
        seen = {body for m in read_queue(platform, "soak-consumed")
                for body in json.loads(m["record"]["responsePayload"])}
        return set(load.messages) - seen

    while missing() and time.monotonic() < deadline + drain_s / 2:
        time.sleep(1)
    lost = missing()
    say(f"{len(load.messages) - len(lost)} of {len(load.messages)} messages consumed")
    problems += [f"message {body!r} was accepted and never consumed" for body in sorted(lost)[:20]]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--fault-every", type=float, default=60, help="seconds between two faults")
    parser.add_argument("--drain", type=float, default=300, help="seconds the check waits for what is under way")
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="faas-soak-") as tmp:
        platform = Up(Path(tmp) / "var", "soak" + uuid.uuid4().hex[:6], **SETTINGS)
        platform.start(timeout=300)
        leaked: list[str] = []
        try:
            set_up(platform)
            load, faults = Load(platform), Faults(platform, client)
            for thread in load.threads:
                thread.start()
            time.sleep(min(10.0, args.fault_every))
            rss_start = control_plane_rss_mb(platform)
            end = time.monotonic() + args.minutes * 60
            for done, kind in enumerate(itertools.cycle(faults.kinds)):
                if time.monotonic() + 1 >= end and done >= len(faults.kinds):  # each kind at least once
                    break
                say(f"fault: {kind()}")
                owed = done + 1 < len(faults.kinds)  # (past the end, the kinds not yet done keep their spacing)
                time.sleep(args.fault_every if owed else max(0.0, min(args.fault_every, end - time.monotonic())))
            load.stop.set()
            for thread in load.threads:
                thread.join(90)
            wait_until(platform.healthy, 120, "the platform to answer after the last fault")
            problems = check(platform, load, args.drain)
            rss_end = control_plane_rss_mb(platform)
            used = platform.redis().info("memory")["used_memory"] / 2 ** 20
        finally:
            platform.stop(timeout=180)
            say("the platform stopped")
            leaked = [c.name for c in client.containers.list(
                all=True, filters={"label": f"faas.platform={platform.platform_id}"})]
            for container in client.containers.list(all=True,
                                                    filters={"label": f"faas.platform={platform.platform_id}"}):
                container.remove(force=True)
            for image in client.images.list(filters={"label": f"faas.platform={platform.platform_id}"}):
                client.images.remove(image.id, force=True)
    total = sum(load.calls.values())
    print(f"soak: {args.minutes:g} min, a fault every {args.fault_every:g} s; calls {dict(load.calls)}; "
          f"async accepted {len(load.accepted)}, messages accepted {len(load.messages)}")
    sync_failed = sum(n for why, n in load.failures.items() if why.startswith("sync"))
    print(f"soak: failed calls {sum(load.failures.values())} of {total} (sync {sync_failed} of "
          f"{load.calls['sync']}): {dict(load.failures.most_common(6))}")
    print(f"soak: control plane RSS {rss_start:.0f} MB after warm-up, {rss_end:.0f} MB at the end; "
          f"Redis {used:.1f} MB")
    if leaked:
        problems.append(f"containers or cells left after the platform stopped: {leaked}")
    if rss_end > rss_start + 200:
        problems.append(f"the control plane grew from {rss_start:.0f} MB to {rss_end:.0f} MB")
    for problem in problems[:50]:
        print(f"soak: PROBLEM: {problem}")
    print(f"soak: {'nothing lost, nothing leaked' if not problems else f'{len(problems)} problem(s)'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
