"""Cells: cold starts that specialise a started, generic runtime container instead of starting one from the
function's image. Real Docker, real mounts, a real control plane."""

import json
import re
from pathlib import Path

import pytest

from helpers import change_behind_its_back, ready_cells, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

PROBE = ("import json, os\n"
         "def handler(event, context):\n"
         "    print('probe says hello from', context.function.name)\n"
         "    def writable(path):\n"
         "        try:\n"
         "            open(path, 'w').close()\n"
         "            return True\n"
         "        except OSError as exc:\n"
         "            return exc.strerror\n"
         "    return json.dumps({'me': open('/code/me.txt').read(), 'env': os.environ.get('GREETING'),\n"
         "        'fc': os.environ.get('FC_FUNCTION_NAME'), 'uid': os.getuid(), 'cwd': os.getcwd(),\n"
         "        'code': sorted(os.listdir('/code')), 'deps': sorted(os.listdir('/var/fc/deps')),\n"
         "        'write_code': writable('/code/new.txt'), 'write_me': writable('/code/me.txt'),\n"
         "        'mounts': [l.split()[1] for l in open('/proc/self/mounts')],\n"
         "        'cgroup_memory': open('/sys/fs/cgroup/memory.max').read().strip()\n"
         "            if os.path.exists('/sys/fs/cgroup/memory.max') else None})\n")


def cells_dir(plat) -> Path:
    return Path(plat.env["FAAS_CELLS_DIR"]) / plat.platform_id


def cell_containers(docker_client, plat):
    # sparse: no inspect per container, which would race with removals under way.
    return docker_client.containers.list(all=True, sparse=True, filters={
        "label": [f"faas.platform={plat.platform_id}", "faas.role=cell"]})


def instances(plat, name):
    return plat.api.request("GET", f"/v1/functions/{name}/instances").json()["instances"]


@pytest.fixture
def cells_platform(start_platform, tmp_path):
    """A control plane whose cells live in a directory of the test's (the product's default otherwise)."""
    def start(**env):
        env.setdefault("FAAS_CELLS_DIR", str(tmp_path / "cells"))
        env.setdefault("FAAS_CELLS_MIN", "2")
        env.setdefault("FAAS_HEALTH_INTERVAL", "1")
        plat = start_platform(**env)
        wait_for(lambda: ready_cells(plat) >= int(env["FAAS_CELLS_MIN"]), timeout=60, what="cells ready")
        return plat
    return start


def test_a_cold_start_through_a_cell_runs_the_right_code_env_limits_user_and_mounts(cells_platform, docker_client,
                                                                                    fn_name):
    plat = cells_platform()
    plat.api.deploy(fn_name, {"index.py": PROBE, "me.txt": fn_name}, environment={"GREETING": "hello"},
                    memoryMB=128)
    resp = plat.api.invoke(fn_name)
    assert resp.status_code == 200 and "X-Fc-Error-Type" not in resp.headers, resp.text
    assert resp.headers["X-Fc-Cold-Start"] == "true"
    seen = json.loads(resp.text)
    assert (seen["me"], seen["env"], seen["fc"], seen["uid"], seen["cwd"]) == (fn_name, "hello", fn_name, 10001,
                                                                                "/code")
    assert seen["code"] == ["__pycache__", "index.py", "me.txt"] and seen["deps"] == []
    assert seen["write_code"] == "Read-only file system" and seen["write_me"] == "Read-only file system"
    (inst,) = instances(plat, fn_name)
    assert inst["startPath"] == "cell" and inst["instanceId"] == resp.headers["X-Fc-Instance-Id"]

    container = docker_client.containers.get(inst["instanceId"])
    attrs = container.attrs
    assert container.labels["faas.role"] == "cell" and container.labels["faas.platform"] == plat.platform_id
    host = attrs["HostConfig"]
    assert host["Memory"] == 128 * 1024 * 1024 and host["MemorySwap"] == 128 * 1024 * 1024
    assert seen["cgroup_memory"] in (None, str(128 * 1024 * 1024))
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"] and host["PidsLimit"] == 256
    assert "no-new-privileges" in host["SecurityOpt"] and host["Privileged"] is False
    assert attrs["Config"]["User"] == "10001:10001"
    assert "/var/run/docker.sock" not in json.dumps(attrs["Mounts"])
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert set(mounts) == {"/code", "/var/fc/deps", "/opt"}  # (/opt: its layers, none here)
    assert all(not m["RW"] for m in mounts.values())
    # The function's environment reached it through /specialize, not Docker: the cell was started before.
    assert "GREETING=hello" not in attrs["Config"]["Env"]

    # Warm reuse afterwards, as for any container; metrics count the path.
    again = plat.api.invoke(fn_name)
    assert again.headers["X-Fc-Cold-Start"] == "false" and again.headers["X-Fc-Instance-Id"] == inst["instanceId"]
    text = plat.api.request("GET", "/metrics").text
    assert f'faas_cold_starts_total{{function="{fn_name}",path="cell"}} 1.0' in text
    assert re.search(rf'faas_container_starts_total{{function="{fn_name}",path="cell",reason="demand"}} 1', text)

    # Its output is the function's log, attributed to its invocation.
    rid = resp.headers["X-Fc-Request-Id"]
    text = wait_for(lambda: (r := plat.api.request("GET", f"/v1/invocations/{rid}/logs")).status_code == 200
                    and "REPORT RequestId" in r.text and r.text, timeout=30, what="the invocation's log")
    assert f"probe says hello from {fn_name}" in text
    function_log = plat.api.request("GET", f"/v1/functions/{fn_name}/logs", params={"tail": 100}).text
    assert f"probe says hello from {fn_name}" in function_log

    # Deleting the function removes the cell's container, mounts and host directory.
    slot = cells_dir(plat) / "slots" / container.name
    assert slot.is_dir()
    assert plat.api.delete(fn_name).status_code == 204
    wait_for(lambda: not slot.exists(), timeout=60, what="the cell's directory removed")
    assert str(slot) not in Path("/proc/self/mountinfo").read_text()


def test_two_functions_from_the_same_pool_never_see_each_others_files(cells_platform, fn_name):
    plat = cells_platform()
    a, b = f"{fn_name}-a", f"{fn_name}-b"
    plat.api.deploy(a, {"index.py": PROBE, "me.txt": "secret-a", "only_a.txt": "a"})
    plat.api.deploy(b, {"index.py": PROBE, "me.txt": "secret-b"})
    seen_a = json.loads(plat.api.invoke(a).text)
    seen_b = json.loads(plat.api.invoke(b).text)
    assert [i["startPath"] for i in instances(plat, a) + instances(plat, b)] == ["cell", "cell"]
    assert seen_a["me"] == "secret-a" and "only_a.txt" in seen_a["code"]
    assert seen_b["me"] == "secret-b" and "only_a.txt" not in seen_b["code"]
    # No mount of another cell's directory, nor the host's unpacked files, is in either container.
    for seen in (seen_a, seen_b):
        assert not [m for m in seen["mounts"] if "/cells/" in m or "slots" in m]


def test_a_failing_initializer_removes_the_cell(cells_platform, docker_client, fn_name):
    plat = cells_platform()
    code = "def init(context):\n    raise RuntimeError('no')\ndef handler(event, context):\n    return 'x'\n"
    plat.api.deploy(fn_name, {"index.py": code}, initializer="index.init")
    before = {c.id for c in cell_containers(docker_client, plat)}
    resp = plat.api.invoke(fn_name)
    assert resp.headers.get("X-Fc-Error-Type") == "UnhandledInvocationError"
    assert json.loads(resp.text)["errorType"] == "RuntimeError"
    assert instances(plat, fn_name) == []
    failed = resp.headers["X-Fc-Instance-Id"]
    assert any(c.startswith(failed) for c in before)  # it was a cell

    def gone():
        return all(not c.id.startswith(failed) for c in cell_containers(docker_client, plat))
    wait_for(gone, timeout=60, what="the failed cell removed")
    wait_for(lambda: not (cells_dir(plat) / "state" / f"{failed}.json").exists() and
             len([p for p in (cells_dir(plat) / "state").iterdir()]) == 0, timeout=30, what="its state removed")


def test_the_pool_refills_after_a_take_and_grows_with_cold_starts(cells_platform, docker_client, fn_name):
    plat = cells_platform(FAAS_CELLS_MIN="1", FAAS_CELLS_MAX="3")
    names = [f"{fn_name}-{i}" for i in range(3)]
    for name in names:
        plat.api.deploy(name, {"index.py": "def handler(event, context):\n    return 'ok'\n"})
    first = plat.api.invoke(names[0])
    assert first.headers["X-Fc-Cold-Start"] == "true" and instances(plat, names[0])[0]["startPath"] == "cell"
    # One cold start in the window: the default class keeps its minimum, refilled in the background.
    wait_for(lambda: ready_cells(plat) == 1, timeout=30, what="the taken cell replaced")
    for name in names[1:]:
        assert plat.api.invoke(name).status_code == 200
    # Three cold starts within the window: three cells kept ready (FAAS_CELLS_MAX).
    wait_for(lambda: ready_cells(plat) == 3, timeout=30, what="the pool grown to the recent cold starts")
    specialised = sum(1 for name in names for i in instances(plat, name) if i["startPath"] == "cell")
    assert specialised >= 2  # the third may have found no cell ready yet, and started from its image
    running = lambda: [c.attrs["State"] for c in cell_containers(docker_client, plat)]  # noqa: E731
    wait_for(lambda: running().count("running") == 3 + specialised, timeout=60,
             what=f"3 cells and {specialised} specialised ones running ({running()})")


def test_fallback_to_the_image_when_no_cell_is_ready_or_the_function_cannot_use_one(cells_platform, fn_name):
    plat = cells_platform(FAAS_CELLS_MIN="0", FAAS_CELLS_MAX="1")
    assert ready_cells(plat) == 0
    plat.api.deploy(fn_name, {"index.py": "def handler(event, context):\n    return 'ok'\n"})
    resp = plat.api.invoke(fn_name)
    assert resp.text == "ok" and resp.headers["X-Fc-Cold-Start"] == "true"
    assert instances(plat, fn_name)[0]["startPath"] == "image"
    text = plat.api.request("GET", "/metrics").text
    assert f'faas_cold_starts_total{{function="{fn_name}",path="image"}} 1.0' in text
    # The cold start counted as demand: a cell of its class is made ready for the next one.
    wait_for(lambda: ready_cells(plat) == 1, timeout=30, what="a cell started after the demand")
    # A function whose environment acts when the interpreter starts never takes a cell.
    other = f"{fn_name}-py"
    plat.api.deploy(other, {"index.py": "import sys\ndef handler(event, context):\n"
                                        "    return str(sys.flags.optimize)\n"},
                    environment={"PYTHONOPTIMIZE": "1"})
    resp = plat.api.invoke(other)
    assert resp.text == "1" and instances(plat, other)[0]["startPath"] == "image"
    assert ready_cells(plat) == 1


def test_cells_off(cells_platform, docker_client, fn_name):
    plat = cells_platform(FAAS_CELLS_MIN="0", FAAS_CELLS_MAX="0")
    plat.api.deploy(fn_name, {"index.py": "def handler(event, context):\n    return 'ok'\n"})
    assert plat.api.invoke(fn_name).text == "ok"
    assert instances(plat, fn_name)[0]["startPath"] == "image"
    assert cell_containers(docker_client, plat) == []


def test_a_specialised_cell_is_adopted_after_a_restart_and_idle_cells_are_replaced(cells_platform, docker_client,
                                                                                  fn_name):
    plat = cells_platform()
    plat.api.deploy(fn_name, {"index.py": "import os\ndef handler(event, context):\n"
                                          "    return os.environ['V'] + open('/code/index.py').read()[:6]\n"},
                    environment={"V": "1"})
    first = plat.api.invoke(fn_name)
    (inst,) = instances(plat, fn_name)
    assert inst["startPath"] == "cell" and first.text == "1import"
    idle_before = {c.id for c in cell_containers(docker_client, plat)} - {
        c.id for c in cell_containers(docker_client, plat) if c.id.startswith(inst["instanceId"])}
    assert idle_before  # the cells left after the take (and the refill's, if it has started yet)

    plat.kill()
    plat.start()
    (again,) = instances(plat, fn_name)
    assert again["instanceId"] == inst["instanceId"] and again["startPath"] == "cell"
    resp = plat.api.invoke(fn_name)
    assert resp.text == "1import" and resp.headers["X-Fc-Cold-Start"] == "false"
    assert resp.headers["X-Fc-Instance-Id"] == inst["instanceId"]
    # Cells never specialised were removed: never reused for another function; new ones take their place.
    wait_for(lambda: ready_cells(plat) == 2, timeout=60, what="new cells")
    now = {c.id for c in cell_containers(docker_client, plat)}
    assert not (idle_before & now)

    # A restart after the function changed (its environment) removes its cell instead of adopting it.
    plat.api.update(fn_name, environment={"V": "2"})
    assert plat.api.invoke(fn_name).text == "2import"
    cell_id = instances(plat, fn_name)[0]["instanceId"]
    plat.kill()
    change_behind_its_back(plat, fn_name, {"V": "3"})
    plat.start()
    assert all(i["instanceId"] != cell_id for i in instances(plat, fn_name))
    assert plat.api.invoke(fn_name).text == "3import"
    wait_for(lambda: all(not c.id.startswith(cell_id) for c in cell_containers(docker_client, plat)), timeout=60,
             what="the stale cell removed")


def test_a_function_with_requirements_runs_in_a_cell(cells_platform, fn_name):
    plat = cells_platform()
    plat.api.deploy(fn_name, {"index.py": "import six\ndef handler(event, context):\n"
                                          "    return six.__file__ + ' ' + str(six.PY3)\n",
                              "requirements.txt": "six==1.16.0\n"})
    resp = plat.api.invoke(fn_name)
    assert resp.status_code == 200 and resp.text == "/var/fc/deps/six.py True", resp.text
    assert instances(plat, fn_name)[0]["startPath"] == "cell"


def test_code_placed_by_hard_links(cells_platform, fn_name):
    plat = cells_platform(FAAS_CELLS_PLACEMENT="link")
    plat.api.deploy(fn_name, {"index.py": PROBE, "me.txt": "linked"})
    seen = json.loads(plat.api.invoke(fn_name).text)
    assert instances(plat, fn_name)[0]["startPath"] == "cell"
    assert seen["me"] == "linked" and seen["write_code"] == "Read-only file system"


def test_lost_cells_mounts_are_set_up_again(cells_platform, docker_client, fn_name):
    """Another process unmounts the cells' mounts (as a second platform with the same id once did on its way
    out): the platform sets them up again, replaces the ready cells (they followed the lost mount), and cold
    starts go through cells again; /healthz stays ok once it works again."""
    import subprocess

    plat = cells_platform()
    root = cells_dir(plat)
    before = {c.id for c in cell_containers(docker_client, plat)}
    subprocess.run(["umount", "--recursive", "--lazy", str(root / "slots")], check=True)
    subprocess.run(["umount", "--recursive", "--lazy", str(root / "staging")], check=True)
    points = lambda: {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}  # noqa: E731
    assert str(root / "slots") not in points()  # the test did break it
    wait_for(lambda: {str(root / "slots"), str(root / "staging")} <= points(), timeout=30,
             what="the cells' mounts set up again")
    wait_for(lambda: ready_cells(plat) >= 2 and not before & {c.id for c in cell_containers(docker_client, plat)},
             timeout=60, what="the ready cells replaced")
    plat.api.deploy(fn_name, {"index.py": PROBE, "me.txt": "mine"})
    resp = plat.api.invoke(fn_name)
    assert resp.status_code == 200 and json.loads(resp.text)["me"] == "mine", resp.text
    assert instances(plat, fn_name)[0]["startPath"] == "cell"
    health = plat.api.request("GET", "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text


def test_a_lost_network_is_set_up_again(start_platform, docker_client, fn_name):
    network = f"faas-test-{fn_name[-6:]}"
    plat = start_platform(FAAS_NETWORK=network, FAAS_CELLS_MAX="0", FAAS_HEALTH_INTERVAL="1")
    docker_client.networks.get(network).remove()  # no container uses it yet
    wait_for(lambda: docker_client.networks.list(names=[network]), timeout=30, what="the network made again")
    plat.api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return 'here'\n"})
    assert plat.api.invoke(fn_name).text == "here"
    plat.api.delete(fn_name)
    assert plat.stop() == 0  # (its health pass would make the network again)
    docker_client.networks.get(network).remove()
