"""Deploy, invoke, update and delete functions through the REST API, on the real engine and Redis."""

import docker
import pytest

from helpers import IMAGE_PATH, run_output

pytestmark = [pytest.mark.docker, pytest.mark.redis]

ECHO = "def handler(event, context):\n    return {'event': event.decode(), 'rid': context.request_id}\n"


def test_deploy_and_invoke(api, fn_name):
    created = api.deploy(fn_name, {"index.py": ECHO})
    assert created["name"] == fn_name and created["revision"] == 1 and created["state"] == "Active"
    assert created["image"].startswith(f"faas-fn-{fn_name}:") and len(created["codeSha256"]) == 64
    assert created["lastBuild"]["status"] == "succeeded"

    resp = api.invoke(fn_name, b"ping")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"event": "ping", "rid": resp.headers["X-Fc-Request-Id"]}
    assert resp.headers["X-Fc-Cold-Start"] == "true"
    assert "X-Fc-Error-Type" not in resp.headers

    again = api.invoke(fn_name, b"pong")
    assert again.json()["event"] == "pong"
    assert again.headers["X-Fc-Cold-Start"] == "false"
    assert again.headers["X-Fc-Instance-Id"] == resp.headers["X-Fc-Instance-Id"]

    described = api.request("GET", f"/v1/functions/{fn_name}").json()
    assert described["revision"] == 1 and described["image"] == created["image"]
    names = [f["name"] for f in api.request("GET", "/v1/functions").json()["functions"]]
    assert fn_name in names
    build_log = api.request("GET", f"/v1/functions/{fn_name}/build-log")
    assert build_log.status_code == 200 and build_log.headers["Content-Type"].startswith("text/plain")
    assert "def handler" not in build_log.text  # the log tells the build's steps, never the code


def test_the_function_list_pages_by_name_and_prefix(api, fn_name):
    names = [f"{fn_name}-{suffix}" for suffix in ("c", "a", "b")]
    for name in names:
        api.deploy(name, {"index.py": ECHO})
    first = api.request("GET", "/v1/functions", params={"prefix": fn_name, "limit": 2}).json()
    assert [f["name"] for f in first["functions"]] == sorted(names)[:2] and first["nextToken"] == sorted(names)[2]
    rest = api.request("GET", "/v1/functions", params={"prefix": fn_name, "limit": 2,
                                                       "nextToken": first["nextToken"]}).json()
    assert [f["name"] for f in rest["functions"]] == sorted(names)[2:] and rest["nextToken"] is None
    assert rest["functions"][0] == api.request("GET", f"/v1/functions/{sorted(names)[2]}").json()
    every = api.request("GET", "/v1/functions").json()  # no page asked: every function, no token
    assert set(names) <= {f["name"] for f in every["functions"]} and "nextToken" not in every
    none = api.request("GET", "/v1/functions", params={"prefix": fn_name + "-z"}).json()
    assert none == {"functions": [], "nextToken": None}


def test_result_types(api, fn_name):
    api.deploy(fn_name, {"index.py": (
        "def handler(event, context):\n"
        "    kind = event.decode()\n"
        "    return {'text': 'héllo', 'bytes': b'\\x00\\xff', 'json': {'a': 1}, 'none': None}[kind]\n")})
    text = api.invoke(fn_name, "text")
    assert text.content.decode() == "héllo" and text.headers["Content-Type"].startswith("text/plain")
    raw = api.invoke(fn_name, "bytes")
    assert raw.content == b"\x00\xff" and raw.headers["Content-Type"] == "application/octet-stream"
    data = api.invoke(fn_name, "json")
    assert data.json() == {"a": 1} and data.headers["Content-Type"] == "application/json"
    assert api.invoke(fn_name, "none").content == b""


def test_dependency_from_requirements(api, fn_name):
    api.deploy(fn_name, {
        "requirements.txt": "six==1.16.0\n",
        "index.py": "import six\ndef handler(event, context):\n    return six.__version__\n",
    })
    resp = api.invoke(fn_name)
    assert resp.status_code == 200 and resp.text == "1.16.0", resp.text


def test_initializer_runs_once_per_container(api, fn_name):
    # The initializer appends to a file in the container's /tmp: the count is read back from the container.
    api.deploy(fn_name, {"index.py": (
        "import os\n"
        "def init(context):\n"
        "    with open('/tmp/inits', 'a') as f:\n"
        "        f.write(context.request_id + '\\n')\n"
        "def handler(event, context):\n"
        "    with open('/tmp/inits') as f:\n"
        "        return {'inits': f.read().split(), 'rid': context.request_id}\n")},
        initializer="index.init")
    first = api.invoke(fn_name)
    body = first.json()
    # The initializer ran once, with a request id of its own that names the container.
    assert body["inits"] == ["init-" + first.headers["X-Fc-Instance-Id"]]
    for _ in range(4):
        again = api.invoke(fn_name)
        assert again.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
        assert again.json()["inits"] == body["inits"]


def test_handler_that_raises(api, fn_name):
    api.deploy(fn_name, {"index.py": (
        "def check(event):\n    raise ValueError('bad event: ' + event.decode())\n"
        "def handler(event, context):\n    check(event)\n")})
    resp = api.invoke(fn_name, "x")
    assert resp.status_code == 200
    assert resp.headers["X-Fc-Error-Type"] == "HandledInvocationError"
    error = resp.json()
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad event: x"
    assert len(error["stackTrace"]) == 2 and all("/code/index.py" in f for f in error["stackTrace"])
    # A handled error keeps the container.
    again = api.invoke(fn_name, "y")
    assert again.headers["X-Fc-Instance-Id"] == resp.headers["X-Fc-Instance-Id"]


def test_syntax_error_fails_the_deploy(api, fn_name):
    resp = api.create(fn_name, {"index.py": "def handler(event, context):\n    return (\n"})
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "BuildFailed"
    assert "index.py, line 2" in error["message"] and "return (" in error["buildLog"]
    assert api.request("GET", f"/v1/functions/{fn_name}").status_code == 404


def test_failed_pip_install_fails_the_deploy_with_its_log(api, fn_name):
    resp = api.create(fn_name, {"index.py": ECHO, "requirements.txt": "this-package-does-not-exist-faas==0.0.1\n"})
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert "this-package-does-not-exist-faas" in error["buildLog"]


def test_update_then_invoke_the_new_version(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return 'v1'\n"}, environment={"COLOR": "red"})
    v1 = api.invoke(fn_name)
    assert v1.text == "v1"

    resp = api.update(fn_name, {"index.py": "import os\ndef handler(e, c):\n    return 'v2 ' + os.environ['COLOR']\n"})
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert updated["revision"] == 2 and updated["environment"] == {"COLOR": "red"}
    v2 = api.invoke(fn_name)
    assert v2.text == "v2 red"
    assert v2.headers["X-Fc-Cold-Start"] == "true"
    assert v2.headers["X-Fc-Instance-Id"] != v1.headers["X-Fc-Instance-Id"]

    # A config-only update: same image, new revision, new containers with the new environment.
    resp = api.update(fn_name, environment={"COLOR": "blue"})
    assert resp.status_code == 200 and resp.json()["revision"] == 3
    assert resp.json()["image"] == updated["image"]
    assert api.invoke(fn_name).text == "v2 blue"


def test_failed_update_keeps_the_previous_version_serving(api, fn_name):
    api.deploy(fn_name, {"index.py": "def handler(e, c):\n    return 'good'\n"})
    resp = api.update(fn_name, {"index.py": "def handler(e, c)\n    return 'broken'\n"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "BuildFailed"
    described = api.request("GET", f"/v1/functions/{fn_name}").json()
    assert described["revision"] == 1 and described["lastBuild"]["status"] == "failed"
    assert "SyntaxError" in described["lastBuild"]["logTail"]
    assert api.invoke(fn_name).text == "good"


def test_unchanged_code_is_not_rebuilt(api, fn_name):
    files = {"index.py": ECHO}
    first = api.deploy(fn_name, files)
    resp = api.update(fn_name, files)
    assert resp.json()["image"] == first["image"] and resp.json()["lastBuild"]["status"] == "cached"


def test_delete_leaves_no_container_or_image(api, fn_name, platform, docker_client):
    api.deploy(fn_name, {"index.py": ECHO})
    resp = api.invoke(fn_name)
    assert resp.status_code == 200
    container = docker_client.containers.get(resp.headers["X-Fc-Instance-Id"])  # started from a cell or its image
    label = {"label": [f"faas.platform={platform.platform_id}", f"faas.function={fn_name}"]}
    assert docker_client.images.list(filters=label)

    resp = api.delete(fn_name)
    assert resp.status_code == 204
    assert docker_client.containers.list(all=True, filters=label) == []
    with pytest.raises(docker.errors.NotFound):
        container.reload()
    assert docker_client.images.list(filters=label) == []
    assert api.request("GET", f"/v1/functions/{fn_name}").status_code == 404
    assert api.invoke(fn_name).status_code == 404
    # The name is free again.
    api.deploy(fn_name, {"index.py": ECHO})
    assert api.delete(fn_name).status_code == 204


def test_containers_run_unprivileged(api, fn_name, platform, docker_client):
    api.deploy(fn_name, {"index.py": (
        "import os\n"
        "def handler(e, c):\n"
        "    try:\n"
        "        open('/code/x', 'w')\n"
        "        writable = True\n"
        "    except OSError:\n"
        "        writable = False\n"
        "    open('/tmp/ok', 'w').write('fine')\n"
        "    st, shm = os.statvfs('/tmp'), os.statvfs('/dev/shm')\n"
        "    return {'uid': os.getuid(), 'rootfs_writable': writable,"
        " 'docker_sock': os.path.exists('/var/run/docker.sock'),"
        " 'tmp_mb': st.f_blocks * st.f_frsize >> 20, 'shm_mb': shm.f_blocks * shm.f_frsize >> 20}\n")},
               memoryMB=256, environment=IMAGE_PATH)  # from its image: the labels are checked
    assert api.invoke(fn_name).json() == {"uid": 10001, "rootfs_writable": False, "docker_sock": False,
                                          "tmp_mb": 128, "shm_mb": 64}
    (container,) = docker_client.containers.list(filters={"label": f"faas.function={fn_name}"})
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True and "size=128m" in host["Tmpfs"]["/tmp"]  # half of memoryMB
    assert host["ShmSize"] == 64 * 1024 * 1024  # a quarter of memoryMB: /dev/shm is bounded too
    assert host["Memory"] == 256 * 1024 * 1024 and host["PidsLimit"] > 0 and not host["Privileged"]
    assert not any("docker.sock" in m.get("Source", "") for m in container.attrs["Mounts"])
    labels = container.labels
    assert labels["faas.platform"] == platform.platform_id and labels["faas.function"] == fn_name
    assert labels["faas.version"] == "1" and labels["faas.version-id"] == "LATEST"


def test_a_single_host_platform_has_no_nodes(api):
    """FAAS_ROLE=all (the default): the pool is the control plane's own; there is no node to list or drain."""
    assert api.request("GET", "/v1/nodes").json() == {"role": "all", "nodes": []}
    resp = api.request("POST", "/v1/nodes/h1/drain")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "NodeNotFound"
    for bad in ("H1", "-h", "a" * 64, "h%0a"):
        assert api.request("POST", f"/v1/nodes/{bad}/drain").status_code == 400, bad


def test_the_image_holds_the_byte_code_its_python_loads(api, fn_name, docker_client):
    """Compiled by the control plane, not by a step of the build: the image's interpreter loads it as it is."""
    created = api.deploy(fn_name, {"index.py": "import lib.util\ndef handler(event, context):\n    return lib.util.Y\n",
                                   "lib/__init__.py": "", "lib/util.py": "Y = 'compiled'\n"})
    assert "Step 4/4" in created["lastBuild"]["logTail"] and "RUN" not in created["lastBuild"]["logTail"]
    assert api.invoke(fn_name, b"").text == "compiled"
    out = run_output(docker_client, created["image"], ["python3", "-v", "-c", "import index"], working_dir="/code",
                     network_disabled=True, stdout=False, stderr=True).decode()
    tag = docker_client.images.get(created["image"]).labels["faas.python-cache-tag"]  # the runtime's, inherited
    for module in ("__pycache__/index", "lib/__pycache__/__init__", "lib/__pycache__/util"):
        assert f"code object from '/code/{module}.{tag}.pyc'" in out, out[-3000:]
