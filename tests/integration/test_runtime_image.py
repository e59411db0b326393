"""The runtime image on its own, started with testcontainers: an FC custom container any platform can drive."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from testcontainers.core.container import DockerContainer

from faas.builder.images import ensure_runtime_image
from faas.config import Settings
from faas.docker_host import LABEL_PYTHON_CACHE_TAG, DockerHost
from helpers import build_handler_image, run_output, wait_for

pytestmark = [pytest.mark.docker]

CODE = """
import threading
INITS = []
FOUR = threading.Barrier(4, timeout=20)

def init(context):
    INITS.append(context.request_id)

def handler(event, context):
    if event == b"together":
        FOUR.wait()  # passes only when four invocations run at the same time
    if event == b"say":
        print("said something")
    return {"event": event.decode(), "inits": INITS, "function": context.function.name}
"""


@pytest.fixture(scope="module")
def runtime_image(docker_client):
    settings = Settings.from_env()
    host = DockerHost(settings)
    try:
        return asyncio.run(ensure_runtime_image(host, settings))
    finally:
        host.close()


@pytest.fixture(scope="module")
def runtime(runtime_image, tmp_path_factory):
    code = tmp_path_factory.mktemp("code")
    (code / "index.py").write_text(CODE)
    code.chmod(0o755)
    (code / "index.py").chmod(0o644)
    container = (
        DockerContainer(runtime_image)
        .with_volume_mapping(str(code), "/code", "ro")
        .with_env("FC_FUNCTION_NAME", "standalone")
        .with_env("FC_FUNCTION_HANDLER", "index.handler")
        .with_env("FC_FUNCTION_INITIALIZER", "index.init")
        .with_exposed_ports(9000)
    )
    container.start()
    url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9000)}"

    def up():
        try:
            return requests.get(url + "/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, timeout=30, what="the runtime container")
    yield container, url
    container.stop()


def test_initialize_then_invoke(runtime):
    _, url = runtime
    http = requests.Session()
    assert http.post(url + "/initialize", headers={"x-fc-request-id": "init-1"}).status_code == 200
    assert http.post(url + "/initialize", headers={"x-fc-request-id": "init-2"}).status_code == 200
    resp = http.post(url + "/invoke", data=b"hi", headers={"x-fc-request-id": "r-1"})
    assert resp.status_code == 200 and "x-fc-status" not in resp.headers
    assert resp.json() == {"event": "hi", "inits": ["init-1"], "function": "standalone"}


def test_concurrent_requests_are_served_in_parallel(runtime):
    _, url = runtime
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: requests.post(url + "/invoke", data=b"together", timeout=60), range(4)))
    # Served one after another, the barrier would break: an error, not a result.
    assert [r.status_code for r in responses] == [200] * 4
    assert all("x-fc-status" not in r.headers for r in responses), [r.text for r in responses]


def test_invocation_markers_in_stdout(runtime):
    container, url = runtime
    quiet = requests.post(url + "/invoke", data=b"x", headers={"x-fc-request-id": "quiet-41"})
    assert quiet.headers.get("x-faas-quiet") == "1"
    loud = requests.post(url + "/invoke", data=b"say", headers={"x-fc-request-id": "marker-42"})
    assert loud.status_code == 200 and "x-faas-quiet" not in loud.headers
    # The End marker is written just after the answer: wait for it to reach the log.
    text = wait_for(lambda: (out := container.get_logs()[0].decode()) and
                    "FC Invoke End RequestId: marker-42" in out and out, timeout=30, what="the End marker")
    start = text.find("FC Invoke Start RequestId: marker-42")
    line = text.find("marker-42 said something")
    end = text.find("FC Invoke End RequestId: marker-42")
    assert 0 <= start < line < end
    assert "quiet-41" not in text  # an invocation that wrote nothing writes no marker either


def _answers(url: str) -> bool:
    try:
        requests.get(url + "/", timeout=1)
        return True
    except requests.RequestException:
        return False


def test_stops_promptly_on_sigterm(runtime_image, docker_client, tmp_path):
    (tmp_path / "index.py").write_text("def handler(e, c):\n    return 'x'\n")
    tmp_path.chmod(0o755)
    container = DockerContainer(runtime_image).with_volume_mapping(str(tmp_path), "/code", "ro") \
        .with_exposed_ports(9000)
    container.start()
    wrapped = container.get_wrapped_container()
    url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9000)}"
    # Serving: its SIGTERM handler is in place (set before the server starts).
    wait_for(lambda: _answers(url), timeout=30, what="the runtime container")
    wrapped.stop(timeout=10)
    wrapped.reload()
    # 0: PID 1 ended on SIGTERM; ignoring it would have meant SIGKILL after 10 s, and 137.
    assert wrapped.attrs["State"]["ExitCode"] == 0
    wrapped.remove(force=True)


def test_custom_container_function(api, fn_name, runtime_image, docker_client, platform):
    """runtime custom-container: the platform drives any image that speaks the protocol."""
    tag = build_handler_image(docker_client, runtime_image, f"faas-test-custom-{platform.platform_id}:{fn_name}",
                              "custom:")
    try:
        created = api.create(fn_name, runtime="custom-container", handler="app.handler",
                             customContainer={"image": tag})
        assert created.status_code == 201, created.text
        assert created.json()["image"] == tag
        resp = api.invoke(fn_name, b"event")
        assert resp.status_code == 200 and resp.content == b"custom:event", resp.text
        assert api.delete(fn_name).status_code == 204
    finally:
        docker_client.images.remove(tag, force=True)


def test_custom_container_with_a_missing_image(api, fn_name):
    resp = api.create(fn_name, runtime="custom-container", customContainer={"image": "faas-no-such-image:1"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "BuildFailed"


def test_its_label_names_its_python(runtime_image, docker_client):
    """The control plane compiles function code for the Python the runtime image's label names."""
    label = docker_client.images.get(runtime_image).labels[LABEL_PYTHON_CACHE_TAG]
    ask = ["python3", "-c", "import sys; print(sys.implementation.cache_tag)"]
    out = run_output(docker_client, runtime_image, ask, network_disabled=True)
    assert out.decode().strip() == label
