"""Sandboxes: a function's `sandbox` (runc or gvisor) chooses how its containers are isolated. gVisor functions
run with the same limits, user, read-only code, logs, metrics, triggers and versions as runc ones, from their
image (no cells), over TCP; the first round's hostile functions are tried in both."""

import json

import pytest
import requests

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

PROBE = """
import json, os, platform
def handler(event, context):
    def writable(path):
        try:
            open(path, 'w').close()
            return True
        except OSError:
            return False
    print('probe ran in', platform.release())
    st = os.statvfs('/tmp')
    return json.dumps({'uid': os.getuid(), 'code_writable': writable('/code/x'), 'tmp_writable': writable('/tmp/x'),
                       'tmp_mb': st.f_blocks * st.f_frsize >> 20, 'docker_sock': os.path.exists('/var/run/docker.sock'),
                       'kernel': open('/proc/version').read(), 'event': event.decode()})
"""

HOSTILE = """
import os, socket, sys, time
def handler(event, context):
    kind = event.decode()
    if kind == 'fork-bomb':
        children = 0
        try:
            while children < 100000:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
        except OSError as exc:
            return f'stopped after {children}: {exc.strerror}'
        return f'forked {children}'
    if kind == 'memory':
        blocks = []
        while True:
            blocks.append(bytearray(16 * 1024 * 1024))
    if kind == 'fill-tmp':
        written = 0
        try:
            with open('/tmp/fill', 'wb') as f:
                while written < 1 << 30:
                    f.write(b'x' * (1 << 20))
                    written += 1 << 20
        except OSError as exc:
            return f'tmp full after {written >> 20} MB: {exc.strerror}'
        return f'wrote {written >> 20} MB'
    if kind == 'prints':
        for _ in range(20):
            print('x' * (512 * 1024), flush=True)
        return 'printed'
    if kind.startswith('reach '):
        host, port = kind.split()[1:]
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            return 'reached'
        except OSError as exc:
            return 'unreachable: ' + type(exc).__name__
    if kind == 'snoop':
        pids = [p for p in os.listdir('/proc') if p.isdigit()]
        try:
            init = open('/proc/1/environ', 'rb').read()
        except OSError:
            init = b''
        return f'{len(pids)} {b"FAAS_" in init or b"REDIS" in init}'
    return 'fine'
"""


@pytest.fixture(scope="module")
def gvisor(docker_client):
    if "runsc" not in docker_client.info().get("Runtimes", {}):
        pytest.fail("the engine has no runsc runtime: scripts/test registers gVisor's (scripts/lib.sh ensure_gvisor)")


def test_a_gvisor_function_runs_like_a_runc_one(api, platform, gvisor, docker_client, fn_name):
    record = api.deploy(fn_name, {"index.py": PROBE}, sandbox="gvisor", memoryMB=256)
    assert record["sandbox"] == "gvisor"
    resp = api.invoke(fn_name, b"hello")
    assert resp.status_code == 200 and resp.headers["X-Fc-Cold-Start"] == "true", resp.text
    got = json.loads(resp.text)
    assert got["uid"] == 10001 and not got["code_writable"] and got["tmp_writable"] and got["tmp_mb"] == 128
    assert not got["docker_sock"] and got["event"] == "hello"
    assert "gVisor" in got["kernel"] or "4.4.0" in got["kernel"], got["kernel"]  # gVisor's own kernel
    (inst,) = api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]
    assert (inst["sandbox"], inst["startPath"], inst["transport"]) == ("gvisor", "image", "tcp")
    (container,) = docker_client.containers.list(filters={"label": f"faas.function={fn_name}"})
    host = container.attrs["HostConfig"]
    assert host["Runtime"] == "runsc" and host["Memory"] == 256 << 20 and host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"] and "no-new-privileges" in host["SecurityOpt"]
    assert api.invoke(fn_name, b"again").headers["X-Fc-Cold-Start"] == "false"  # warm reuse
    # Logs and metrics
    rid = resp.headers["X-Fc-Request-Id"]
    logs = wait_for(lambda: (t := api.request("GET", f"/v1/functions/{fn_name}/logs").text) and
                    f"REPORT RequestId: {rid}" in t and t, timeout=30, what="the REPORT line")
    assert "probe ran in" in logs
    assert f'function="{fn_name}"' in api.request("GET", "/metrics").text
    # Versions and an HTTP trigger
    version = api.request("POST", f"/v1/functions/{fn_name}/versions", json={}).json()["versionId"]
    assert json.loads(api.request("POST", f"/v1/functions/{fn_name}/invocations?qualifier={version}",
                                  data=b"v").text)["event"] == "v"
    trig = api.request("POST", f"/v1/functions/{fn_name}/triggers",
                       json={"triggerName": "web", "triggerType": "http", "triggerConfig": {"authType": "anonymous"}})
    assert trig.status_code == 201, trig.text
    assert requests.post(f"{platform.url}/function/{fn_name}", data=b"web", timeout=60).status_code == 200
    # The sandbox is kept by an update, can be changed by one, and a bad one is refused
    assert api.update(fn_name, memoryMB=128).json()["sandbox"] == "gvisor"
    bad = api.update(fn_name, sandbox="kata")
    assert bad.status_code == 400 and "sandbox" in bad.json()["error"]["message"]
    assert api.update(fn_name, sandbox="runc").json()["sandbox"] == "runc"
    api.invoke(fn_name, b"runc now")
    (inst,) = [i for i in api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]
               if i["state"] != "Draining"]
    assert inst["sandbox"] == "runc"


def test_the_platforms_default_sandbox(start_platform, gvisor, fn_name):
    plat = start_platform(FAAS_SANDBOX="gvisor")
    assert plat.api.deploy(fn_name, {"index.py": PROBE})["sandbox"] == "gvisor"
    assert plat.api.deploy(fn_name + "-r", {"index.py": PROBE}, sandbox="runc")["sandbox"] == "runc"
    assert plat.api.invoke(fn_name, b"x").status_code == 200


def _gateway(docker_client) -> str:
    return docker_client.networks.get("faas-functions").attrs["IPAM"]["Config"][0]["Gateway"]


@pytest.mark.parametrize("sandbox", ["runc", "gvisor"])
def test_hostile_functions_in_each_sandbox(api, platform, gvisor, docker_client, redis_server, fn_name, sandbox):
    """Whatever the function does, the call ends with an answer, the platform stays up, and the next call works."""
    api.deploy(fn_name, {"index.py": HOSTILE}, sandbox=sandbox, timeoutSeconds=10, memoryMB=128)
    assert api.invoke(fn_name, b"ok").text == "fine"

    bomb = api.invoke(fn_name, b"fork-bomb")  # the pids limit stops it (or the sandbox dies of it)
    assert bomb.status_code == 200
    contained = ("RuntimeExited", "OutOfMemory", "FunctionTimeout", "ConnectionLost")
    assert bomb.text.startswith("stopped after") or bomb.json()["errorType"] in contained, bomb.text
    memory = api.invoke(fn_name, b"memory")
    assert memory.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert memory.json()["errorType"] in ("OutOfMemory", "RuntimeExited"), memory.text
    tmp = api.invoke(fn_name, b"fill-tmp")
    assert tmp.text.startswith("tmp full after"), tmp.text  # /tmp is bounded (half of memoryMB at most)
    assert int(tmp.text.split()[3]) <= 64
    assert api.invoke(fn_name, b"prints").text == "printed"
    redis_port = redis_server.rsplit(":", 1)[1].split("/")[0]
    # (addresses of this machine only: the host's side of the functions' bridge, and the container's loopback)
    for target in (f"{_gateway(docker_client)} {platform.port}", f"{_gateway(docker_client)} {redis_port}",
                   f"127.0.0.1 {platform.port}", f"127.0.0.1 {redis_port}"):
        reach = api.invoke(fn_name, f"reach {target}".encode())
        assert reach.text.startswith("unreachable"), (target, reach.text)
    pids, leaked = api.invoke(fn_name, b"snoop").text.split()
    assert int(pids) < 50 and leaked == "False"  # its own processes only; no platform secret in sight
    assert api.invoke(fn_name, b"ok").text == "fine"
    assert api.request("GET", "/healthz").status_code == 200


def test_nothing_is_left_behind_by_a_failed_gvisor_start(api, gvisor, docker_client, fn_name):
    """A gVisor container that cannot start (its image's command does not exist) fails its call clearly and
    leaves no runsc process behind."""
    tag = next(t for image in docker_client.images.list("faas-runtime-python") for t in image.tags)
    api.deploy(fn_name, None, runtime="custom-container", sandbox="gvisor",
               customContainer={"image": tag, "command": ["/no/such/binary"]})
    before = _runsc_processes()
    resp = api.invoke(fn_name, b"x")
    assert resp.status_code in (200, 503), resp.text
    assert resp.status_code == 503 or resp.json()["errorType"] in ("RuntimeExited", "ContainerStartFailed"), resp.text
    wait_for(lambda: not _runsc_processes() - before, timeout=30, what="no runsc process left by the failed start")
    assert api.request("GET", "/healthz").status_code == 200


def _runsc_processes() -> set[int]:
    import os

    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if b"runsc" in f.read().split(b"\0")[0]:
                        found.add(int(entry.name))
            except OSError:
                pass
    return found
