"""The container pool: warm reuse, reclaim, reserved instances, concurrency, bursts, pause, restart."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import IMAGE_PATH, change_behind_its_back, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

SLOW = ("import time\n"
        "def handler(event, context):\n"
        "    time.sleep(float(event or b'0'))\n"
        "    return context.request_id\n")

INIT_COUNT = ("def init(context):\n"
              "    open('/tmp/inits', 'a').write('x')\n"
              "def handler(event, context):\n"
              "    return str(len(open('/tmp/inits').read()))\n")


def deploy(api, name, files, **spec):
    """Deploy a function whose containers start from its image (not from cells), so that the tests of the
    pool's mechanics, the same on both paths, find its containers by their labels."""
    return api.deploy(name, files, environment=IMAGE_PATH | spec.pop("environment", {}), **spec)


def containers(docker_client, platform, fn_name, all=False):
    # sparse: no inspect per container, which would race with removals under way.
    return docker_client.containers.list(all=all, sparse=True, filters={
        "label": [f"faas.platform={platform.platform_id}", f"faas.function={fn_name}"]})


def instances(api, fn_name):
    resp = api.request("GET", f"/v1/functions/{fn_name}/instances")
    assert resp.status_code == 200, resp.text
    return resp.json()["instances"]


def test_warm_reuse_and_reclaim_after_keep_alive(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": INIT_COUNT}, initializer="index.init", keepAliveSeconds=2)
    first = api.invoke(fn_name)
    assert first.headers["X-Fc-Cold-Start"] == "true"
    for _ in range(3):
        again = api.invoke(fn_name)
        assert again.headers["X-Fc-Cold-Start"] == "false"
        assert again.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
        assert again.text == "1"  # the initializer ran once in this container
    (listed,) = instances(api, fn_name)
    assert listed["instanceId"] == first.headers["X-Fc-Instance-Id"]
    assert listed["state"] == "Ready" and listed["invocations"] == 4 and listed["reserved"] is False
    assert listed["transport"] == "unix"  # the runtime's socket in the container's /tmp, not the bridge
    # Idle past keep-alive: reclaimed.
    wait_for(lambda: not containers(docker_client, platform, fn_name, all=True), timeout=60,
             what="the idle container to be reclaimed")
    assert instances(api, fn_name) == []
    assert api.invoke(fn_name).headers["X-Fc-Cold-Start"] == "true"


def test_instance_concurrency_shares_one_container(api, fn_name):
    deploy(api, fn_name, {"index.py": SLOW}, instanceConcurrency=4)
    api.invoke(fn_name, "0")
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: api.invoke(fn_name, "0.5"), range(4)))
    assert all(r.status_code == 200 and "X-Fc-Error-Type" not in r.headers for r in responses)
    assert {r.headers["X-Fc-Instance-Id"] for r in responses} == {responses[0].headers["X-Fc-Instance-Id"]}
    assert len({r.text for r in responses}) == 4  # four distinct invocations


def test_burst_of_30_on_a_cold_function(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": SLOW}, maxInstances=10)
    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(lambda _: api.invoke(fn_name, "0.2"), range(30)))
    assert [r.status_code for r in responses] == [200] * 30
    assert not any("X-Fc-Error-Type" in r.headers for r in responses)
    used = {r.headers["X-Fc-Instance-Id"] for r in responses}
    assert 1 < len(used) <= 10
    assert len(containers(docker_client, platform, fn_name)) <= 10


def test_reserved_instances(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": INIT_COUNT}, initializer="index.init", reservedInstances=2,
               keepAliveSeconds=1)
    wait_for(lambda: len([i for i in instances(api, fn_name) if i["state"] == "Ready"]) == 2, timeout=60,
             what="two reserved containers to be ready")
    reserved_ids = {i["instanceId"] for i in instances(api, fn_name)}
    assert all(i["reserved"] for i in instances(api, fn_name))
    # The first invocation after they are ready is warm, and its initializer already ran.
    first = api.invoke(fn_name)
    assert first.headers["X-Fc-Cold-Start"] == "false" and first.text == "1"
    assert first.headers["X-Fc-Instance-Id"] in reserved_ids
    # Never reclaimed, though the keep-alive is 1 s: an ordinary container idle since after them is, meanwhile.
    ordinary = fn_name[:50] + "-ordinary"
    deploy(api, ordinary, {"index.py": INIT_COUNT}, initializer="index.init", keepAliveSeconds=1)
    assert api.invoke(ordinary).status_code == 200
    wait_for(lambda: instances(api, ordinary) == [], timeout=60, what="an ordinary idle container reclaimed")
    assert {i["instanceId"] for i in instances(api, fn_name)} == reserved_ids

    # Killed from outside: replaced within seconds.
    victim = containers(docker_client, platform, fn_name)[0]
    victim.kill()
    wait_for(lambda: len({i["instanceId"] for i in instances(api, fn_name) if i["state"] == "Ready"}
                         - {victim.id[:12]}) == 2 and victim.id[:12] not in
             {i["instanceId"] for i in instances(api, fn_name)},
             timeout=60, what="the killed reserved container to be replaced")
    assert len(containers(docker_client, platform, fn_name)) == 2

    # Changed on the live function: down to 0, the surplus becomes ordinary and is reclaimed.
    resp = api.update(fn_name, reservedInstances=0)
    assert resp.status_code == 200
    wait_for(lambda: not containers(docker_client, platform, fn_name), timeout=60,
             what="containers no longer reserved to be reclaimed")


def test_reserved_instances_follow_a_config_change(api, fn_name):
    deploy(api, fn_name, {"index.py": SLOW})
    assert instances(api, fn_name) == []
    assert api.update(fn_name, reservedInstances=1).status_code == 200
    wait_for(lambda: [i for i in instances(api, fn_name) if i["reserved"] and i["state"] == "Ready"],
             timeout=60, what="a reserved container")
    assert api.invoke(fn_name, "0").headers["X-Fc-Cold-Start"] == "false"


def test_capacity_429_and_eviction(start_platform, docker_client):
    # A small host: a 512 MB budget, and requests wait at most 1 s for a container.
    plat = start_platform(FAAS_HOST_MEMORY_MB="512", FAAS_QUEUE_TIMEOUT="1")
    api = plat.api
    deploy(api, "slow", {"index.py": SLOW}, maxInstances=1, memoryMB=256)
    # Its container first (its cold start may outlast the 1 s queue timeout on a busy machine), then held.
    wait_for(lambda: api.invoke("slow", "0").status_code == 200, timeout=60, what="slow's container")
    holder = threading.Thread(target=api.invoke, args=("slow", "3"))
    holder.start()
    wait_for(lambda: [i["state"] for i in instances(api, "slow")] == ["Busy"], timeout=60, what="slow held")
    over = api.invoke("slow", "0")
    assert over.status_code == 429 and over.json()["error"]["code"] == "TooManyRequests"
    holder.join()
    assert api.invoke("slow", "0").status_code == 200  # capacity is back

    # The budget is full with "slow" (256) + "other" (256): a third function evicts the LRU idle one.
    deploy(api, "other", {"index.py": SLOW}, memoryMB=256)
    api.invoke("other", "0")
    deploy(api, "third", {"index.py": SLOW}, memoryMB=256)
    # (429 while its cold start takes longer than this platform's 1 s queue timeout, on a busy machine: the
    # container it started serves a later request)
    wait_for(lambda: api.invoke("third", "0").status_code == 200, timeout=60, what="third served")
    wait_for(lambda: not containers(docker_client, plat, "slow", all=True), timeout=60,
             what="the least recently used container to be evicted")
    assert instances(api, "other") and instances(api, "third")


def test_reserved_containers_are_never_evicted(start_platform):
    plat = start_platform(FAAS_HOST_MEMORY_MB="256", FAAS_QUEUE_TIMEOUT="1")
    api = plat.api
    deploy(api, "keep", {"index.py": SLOW}, reservedInstances=1, memoryMB=256)
    wait_for(lambda: [i for i in instances(api, "keep") if i["state"] == "Ready"], timeout=60,
             what="the reserved container")
    deploy(api, "needy", {"index.py": SLOW}, memoryMB=128)
    resp = api.invoke("needy", "0")
    assert resp.status_code == 429
    assert [i["reserved"] for i in instances(api, "keep")] == [True]


def test_pause_and_unpause(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": INIT_COUNT}, initializer="index.init", pauseAfterSeconds=1)
    first = api.invoke(fn_name)
    (container,) = containers(docker_client, platform, fn_name)

    def paused():
        container.reload()
        return container.attrs["State"]["Paused"]

    wait_for(paused, timeout=60, what="the idle container to be paused")
    wait_for(lambda: instances(api, fn_name)[0]["state"] == "Paused", timeout=30, what="the pool to say Paused")
    again = api.invoke(fn_name)
    assert again.status_code == 200 and again.text == "1"
    assert again.headers["X-Fc-Cold-Start"] == "false"
    assert again.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    container.reload()
    assert not container.attrs["State"]["Paused"]


def test_update_retires_old_containers(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": SLOW})
    old = api.invoke(fn_name, "0").headers["X-Fc-Instance-Id"]
    api.update(fn_name, environment={"V": "2"})
    wait_for(lambda: old not in {c.id[:12] for c in containers(docker_client, platform, fn_name, all=True)},
             timeout=60, what="the old version's container to go")
    assert api.invoke(fn_name, "0").headers["X-Fc-Instance-Id"] != old


def test_restart_adopts_current_containers(start_platform, docker_client):
    plat = start_platform(FAAS_PLATFORM_ID="t-restart-" + str(int(time.time()) % 100000))
    api = plat.api
    deploy(api, "kept", {"index.py": INIT_COUNT}, initializer="index.init", reservedInstances=1)
    wait_for(lambda: [i for i in instances(api, "kept") if i["state"] == "Ready"], timeout=60,
             what="the reserved container")
    (reserved_id,) = [i["instanceId"] for i in instances(api, "kept")]
    deploy(api, "stale", {"index.py": SLOW})
    api.invoke("stale", "0")
    (stale_old,) = [c.id for c in containers(docker_client, plat, "stale")]

    plat.kill()  # a crash: the containers stay
    assert len(containers(docker_client, plat, "kept")) == 1
    # While it is down, "stale" changes behind its back (a new revision with another environment): its
    # container no longer runs what the function is.
    change_behind_its_back(plat, "stale", {"V": "2"})

    plat.start()
    listed = instances(plat.api, "kept")
    assert [(i["instanceId"], i["reserved"]) for i in listed] == [(reserved_id, True)]
    resp = plat.api.invoke("kept")
    assert resp.headers["X-Fc-Cold-Start"] == "false" and resp.text == "1"
    assert resp.headers["X-Fc-Instance-Id"] == reserved_id
    assert stale_old not in [c.id for c in containers(docker_client, plat, "stale", all=True)]


def test_metrics(api, fn_name):
    deploy(api, fn_name, {"index.py": SLOW})
    api.invoke(fn_name, "0")
    api.invoke(fn_name, "0")
    text = api.request("GET", "/metrics").text
    assert f'faas_invocations_total{{function="{fn_name}",outcome="success"}} 2' in text
    cold = re.findall(rf'^faas_cold_starts_total{{function="{fn_name}",path="(image|cell)"}} (\S+)$', text, re.M)
    assert sum(float(n) for _, n in cold) == 1, cold
    assert f'faas_invocation_duration_seconds_count{{function="{fn_name}"}} 2' in text
    assert f'faas_containers{{function="{fn_name}",state="Ready"}} 1' in text


def test_container_removed_from_outside_mid_invocation(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": SLOW})
    api.invoke(fn_name, "0")
    (container,) = containers(docker_client, platform, fn_name)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(api.invoke, fn_name, "5")
        wait_for(lambda: [i["state"] for i in instances(api, fn_name)] == ["Busy"], timeout=30, interval=0.05,
                 what="the call to run")  # for the 5 s it sleeps
        container.remove(force=True)
        resp = pending.result()
    # Not the function's doing: a platform error (an async event retries it as a system error).
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "ServiceUnavailable"
    assert "from outside" in resp.json()["error"]["message"]
    after = api.invoke(fn_name, "0")
    assert after.status_code == 200 and after.headers["X-Fc-Cold-Start"] == "true"
    assert after.headers["X-Fc-Instance-Id"] != container.id[:12]


def test_idle_container_killed_from_outside_leaves_the_pool(api, fn_name, platform, docker_client):
    deploy(api, fn_name, {"index.py": SLOW})
    first = api.invoke(fn_name, "0")
    (container,) = containers(docker_client, platform, fn_name)
    container.kill()
    wait_for(lambda: instances(api, fn_name) == [], timeout=60, what="the dead container to leave the pool")
    after = api.invoke(fn_name, "0")
    assert after.status_code == 200 and after.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


def test_a_killed_reserved_container_costs_no_invocation_and_no_cold_start(api, fn_name, platform, docker_client):
    """Invoked once a second after `docker kill` of its reserved container: no call is sent to the dead one
    (or, sent before Docker said so, it goes to another container), and no on-demand container starts
    while the reserved replacement can serve."""
    deploy(api, fn_name, {"index.py": SLOW}, reservedInstances=1)
    wait_for(lambda: [i for i in instances(api, fn_name) if i["state"] == "Ready"], timeout=60,
             what="the reserved container")
    (container,) = containers(docker_client, platform, fn_name)
    container.kill()
    answers = []
    for _ in range(5):
        answers.append(api.invoke(fn_name, "0"))
        time.sleep(1)  # pacing: one call a second, as the docstring says
    for resp in answers:
        assert resp.status_code == 200 and "X-Fc-Error-Type" not in resp.headers, resp.text
    served = {resp.headers["X-Fc-Instance-Id"] for resp in answers}
    assert container.id[:12] not in served
    assert all(i["reserved"] for i in instances(api, fn_name))  # no on-demand container was started
    metrics = api.request("GET", "/metrics").text
    assert not re.search(rf'faas_container_starts_total{{function="{fn_name}",path="\w+",reason="demand"}}', metrics)


def test_a_container_kept_across_a_pool_only_change_is_adopted_after_a_restart(start_platform, fn_name):
    plat = start_platform()
    api = plat.api
    deploy(api, fn_name, {"index.py": SLOW})
    first = api.invoke(fn_name, "0").headers["X-Fc-Instance-Id"]
    assert api.update(fn_name, keepAliveSeconds=900, maxInstances=3).status_code == 200  # revision 2
    resp = api.invoke(fn_name, "0")
    assert resp.headers["X-Fc-Instance-Id"] == first and resp.headers["X-Fc-Cold-Start"] == "false"
    plat.kill()  # its container still carries revision 1's label; what it runs is revision 2's
    plat.start()
    assert [(i["instanceId"], i["revision"]) for i in instances(plat.api, fn_name)] == [(first, 2)]
    resp = plat.api.invoke(fn_name, "0")
    assert resp.headers["X-Fc-Instance-Id"] == first and resp.headers["X-Fc-Cold-Start"] == "false"
