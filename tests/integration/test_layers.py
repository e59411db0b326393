"""Layers: published once, seen read-only under /opt by every function that lists them, on the image path and
through cells. Real Docker, real Redis, a real control plane."""

import base64
import io
import json
import zipfile

import pytest

from helpers import code_b64, make_zip, ready_cells, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

PROBE = ("import json, os, sys\n"
         "def handler(event, context):\n"
         "    import common\n"
         "    out = {'value': common.VALUE, 'file': common.__file__, 'extra': None,\n"
         "           'cached': common.__cached__, 'tool': open('/opt/bin/tool').read().strip()\n"
         "           if os.path.exists('/opt/bin/tool') else None, 'runs': os.access('/opt/bin/tool', os.X_OK)}\n"
         "    try:\n"
         "        import only_a\n"
         "        out['extra'] = only_a.A\n"
         "    except ImportError:\n"
         "        pass\n"
         "    try:\n"
         "        open('/opt/python/new.py', 'w').close()\n"
         "        out['write'] = 'written'\n"
         "    except OSError as exc:\n"
         "        out['write'] = exc.strerror\n"
         "    return json.dumps(out)\n")


def publish(api, name, files, executable=(), **body):
    resp = api.request("POST", f"/v1/layers/{name}/versions",
                       json={"code": {"zipFile": code_b64(files, executable)}, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def probe(api, name, qualifier=None):
    path = f"/v1/functions/{name}/invocations" + (f"?qualifier={qualifier}" if qualifier else "")
    resp = api.request("POST", path)
    assert resp.status_code == 200 and "X-Fc-Error-Type" not in resp.headers, resp.text
    return json.loads(resp.text)


@pytest.fixture
def layer_name(fn_name):
    return "ly-" + fn_name[-30:]


def test_a_layer_is_importable_from_opt_python_compiled_read_only_and_listed(api, fn_name, layer_name):
    made = publish(api, layer_name, {"python/common.py": "VALUE = 'one'\n", "bin/tool": "#!/bin/sh\necho tool\n"},
                   executable=("bin/tool",), description="shared code")
    assert (made["layerName"], made["version"], made["ref"], made["description"]) == \
        (layer_name, 1, f"{layer_name}:1", "shared code")
    assert made["compatibleRuntimes"] == ["python3.11", "python3.13", "custom.debian12"] and made["codeSize"] > 0
    got = api.request("GET", f"/v1/layers/{layer_name}/versions/1").json()
    assert got == made
    assert any(layer["ref"] == f"{layer_name}:1" for layer in api.request("GET", "/v1/layers").json()["layers"])

    created = api.deploy(fn_name, {"index.py": PROBE}, layers=[layer_name])  # a name alone: its newest version
    assert created["layers"] == [f"{layer_name}:1"] and created["layerImages"] == [made["image"]]
    seen = probe(api, fn_name)
    assert seen["value"] == "one" and seen["file"] == "/opt/python/common.py"
    assert seen["cached"] == "/opt/python/__pycache__/common.cpython-311.pyc"  # compiled when it was published
    assert seen["write"] == "Read-only file system" and seen["tool"] == "#!/bin/sh\necho tool" and seen["runs"]
    assert api.request("GET", f"/v1/layers/{layer_name}/versions").json()["versions"][0]["version"] == 1


def test_a_later_layer_wins_and_a_code_only_update_keeps_the_layers_without_a_rebuild(api, fn_name, layer_name):
    a = publish(api, f"{layer_name}-a", {"python/common.py": "VALUE = 'a'\n", "python/only_a.py": "A = 1\n"})
    b = publish(api, f"{layer_name}-b", {"python/common.py": "VALUE = 'b'\n"})
    created = api.deploy(fn_name, {"index.py": PROBE}, layers=[a["ref"], b["ref"]])
    seen = probe(api, fn_name)
    assert (seen["value"], seen["extra"]) == ("b", 1)  # b's common.py over a's; a's only file still there
    assert api.update(fn_name, layers=[b["ref"], a["ref"]]).status_code == 200
    assert probe(api, fn_name)["value"] == "a"
    updated = api.update(fn_name, {"index.py": PROBE + "\n# changed\n"}).json()
    assert updated["layers"] == [b["ref"], a["ref"]] and updated["image"] != created["image"]
    assert "Step 4/4" in updated["lastBuild"]["logTail"]  # the code only: no layer goes into the image
    assert probe(api, fn_name)["value"] == "a"


def test_a_function_version_keeps_its_layer_version_and_a_used_one_cannot_be_deleted(api, fn_name, layer_name):
    one = publish(api, layer_name, {"python/common.py": "VALUE = 'v1'\n"})
    api.deploy(fn_name, {"index.py": PROBE}, layers=[one["ref"]])
    published = api.request("POST", f"/v1/functions/{fn_name}/versions", json={})
    assert published.status_code == 201, published.text
    two = publish(api, layer_name, {"python/common.py": "VALUE = 'v2'\n"})
    assert two["version"] == 2
    assert api.update(fn_name, layers=[layer_name]).json()["layers"] == [two["ref"]]
    assert probe(api, fn_name)["value"] == "v2" and probe(api, fn_name, "1")["value"] == "v1"

    resp = api.request("DELETE", f"/v1/layers/{layer_name}/versions/1")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "ResourceInUse", resp.text
    assert f"function {fn_name} (version 1)" in resp.json()["error"]["message"]
    assert api.request("DELETE", f"/v1/functions/{fn_name}/versions/1").status_code == 204
    assert api.request("DELETE", f"/v1/layers/{layer_name}/versions/1").status_code == 204
    assert api.request("GET", f"/v1/layers/{layer_name}/versions/1").status_code == 404
    assert api.request("DELETE", f"/v1/layers/{layer_name}/versions/2").status_code == 409  # LATEST's
    assert api.delete(fn_name).status_code == 204
    assert api.request("DELETE", f"/v1/layers/{layer_name}/versions/2").status_code == 204
    assert api.request("GET", f"/v1/layers/{layer_name}/versions").status_code == 404
    # a version number is never given twice, even once every version is gone
    assert publish(api, layer_name, {"python/common.py": "VALUE = 3\n"})["version"] == 3


def test_layers_through_a_cell_and_on_python_313(platform, fn_name, layer_name):
    plat = platform  # (its cells: FAAS_CELLS_MIN 1)
    wait_for(lambda: ready_cells(plat) >= 1, timeout=60, what="a cell ready")
    a = publish(plat.api, f"{layer_name}-a", {"python/common.py": "VALUE = 'a'\n", "python/only_a.py": "A = 2\n"})
    b = publish(plat.api, f"{layer_name}-b", {"python/common.py": "VALUE = 'b'\n"}, compatibleRuntimes=["python3.13"])
    plat.api.deploy(fn_name, {"index.py": PROBE}, layers=[a["ref"]], memoryMB=128)
    seen = probe(plat.api, fn_name)
    assert (seen["value"], seen["extra"], seen["write"]) == ("a", 2, "Read-only file system")
    (inst,) = plat.api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]
    assert inst["startPath"] == "cell"

    resp = plat.api.create(f"{fn_name}-x", {"index.py": PROBE}, layers=[b["ref"]])  # b is for python3.13 only
    assert resp.status_code == 400 and "is for python3.13, not python3.11" in resp.text, resp.text
    plat.api.deploy(f"{fn_name}-13", {"index.py": PROBE}, layers=[a["ref"], b["ref"]], runtime="python3.13")
    seen = probe(plat.api, f"{fn_name}-13")
    assert (seen["value"], seen["extra"]) == ("b", 2)
    assert seen["cached"] == "/opt/python/__pycache__/common.cpython-313.pyc"


def test_a_custom_runtime_runs_a_program_from_its_layer(api, fn_name, layer_name):
    server = ("import http.server, os\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_POST(self):\n"
              "        out = os.popen('greet').read().encode()\n"
              "        self.send_response(200)\n"
              "        self.send_header('Content-Length', str(len(out)))\n"
              "        self.end_headers()\n"
              "        self.wfile.write(out)\n"
              "http.server.ThreadingHTTPServer(('0.0.0.0', 9000), H).serve_forever()\n")
    made = publish(api, layer_name, {"bin/greet": "#!/bin/sh\necho hello from the layer\n", "srv/server.py": server},
                   executable=("bin/greet",), compatibleRuntimes=["custom.debian12"])
    api.deploy(fn_name, {"bootstrap": "#!/bin/sh\nexec python3 /opt/srv/server.py\n"}, executable=("bootstrap",),
               runtime="custom.debian12", layers=[made["ref"]])
    resp = api.invoke(fn_name)
    assert resp.status_code == 200 and resp.text == "hello from the layer\n", resp.text  # /opt/bin is on its PATH


def zip_b64(entries: list[tuple[str, bytes, int | None]]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return base64.b64encode(buf.getvalue()).decode()


def test_hostile_layer_zips_are_refused(api, layer_name, platform):
    def attempt(code, status=400, match=""):
        resp = api.request("POST", f"/v1/layers/{layer_name}/versions", json={"code": code})
        assert resp.status_code == status and match in resp.json()["error"]["message"], resp.text

    ok = ("python/x.py", b"X = 1\n", None)
    attempt({"zipFile": zip_b64([ok, ("../escape.py", b"x", None)])}, match="..")
    attempt({"zipFile": zip_b64([ok, ("python/../../etc/passwd", b"x", None)])}, match="..")
    attempt({"zipFile": zip_b64([ok, ("/opt/abs.py", b"x", None)])}, match="absolute")
    attempt({"zipFile": zip_b64([ok, ("python/link", b"/etc/shadow", 0o120777)])}, match="symbolic link")
    attempt({"zipFile": zip_b64([ok, ("python\\x.py", b"x", None)])}, match="backslashes")
    attempt({"zipFile": zip_b64([ok, ok])}, match="twice")
    attempt({"zipFile": zip_b64([("python/", b"", None)])}, match="no files")
    attempt({"zipFile": "%%%"}, match="base64")
    attempt({"zipFile": base64.b64encode(b"not a zip").decode()}, match="zip")
    attempt({"zipFile": code_b64({"a": "x"}), "extra": 1}, match="zipFile")
    big = make_zip({"python/x.py": "X = 1\n"}) + b"\0" * (50 * 1024 * 1024)
    attempt({"zipFile": base64.b64encode(big).decode()}, status=413)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            with zf.open(f"python/zeros{i}.bin", "w", force_zip64=True) as out:
                for _ in range(200):
                    out.write(b"\0" * (1 << 20))
    attempt({"zipFile": base64.b64encode(bomb.getvalue()).decode()}, status=413, match="unzips to more than")
    for body, match in (({"code": {"zipFile": code_b64({"a": "x"})}, "compatibleRuntimes": ["custom-container"]},
                         "compatibleRuntimes"),
                        ({"code": {"zipFile": code_b64({"a": "x"})}, "compatibleRuntimes": []}, "compatibleRuntimes"),
                        ({"code": {"zipFile": code_b64({"a": "x"})}, "compatibleRuntimes": ["python3.11\n"]},
                         "compatibleRuntimes"),
                        ({"code": {"zipFile": code_b64({"a": "x"})}, "description": "x" * 257}, "description"),
                        ({"code": {"zipFile": code_b64({"a": "x"})}, "license": "MIT"}, "license"),
                        ([], "JSON object")):
        resp = api.request("POST", f"/v1/layers/{layer_name}/versions", json=body)
        assert resp.status_code == 400 and match in resp.text, resp.text
    for bad in ("Bad_Name", "a" * 64, "x%0a", "-x"):
        resp = api.request("POST", f"/v1/layers/{bad}/versions", json={"code": {"zipFile": code_b64({"a": "x"})}})
        assert resp.status_code == 400, (bad, resp.text)
    for version in ("0", "01", "x", "1.0", "99999999999", "%31"):
        assert api.request("GET", f"/v1/layers/{layer_name}/versions/{version}").status_code in (400, 404), version
    assert api.request("GET", f"/v1/layers/{layer_name}/versions").status_code == 404  # nothing was published
    assert api.request("GET", "/healthz").status_code == 200


def test_layer_references_that_are_malformed_forged_duplicated_or_too_many(api, fn_name, layer_name):
    made = publish(api, layer_name, {"python/common.py": "VALUE = 1\n"})
    code = {"index.py": PROBE}
    for layers, match in (([f"{layer_name}:0"], "not a layer version"),
                          ([f"{layer_name}:01"], "not a layer version"),
                          ([f"{layer_name}:1\n"], "not a layer version"),
                          ([layer_name.upper() + ":1"], "not a layer version"),
                          ([f"{layer_name}:1:2"], "not a layer version"),
                          ([f"../{layer_name}:1"], "not a layer version"),
                          ([f"acs:fc:cn-hangzhou:1:layers/{layer_name}/versions/1"], "not a layer version"),
                          ([1], "not a layer version"),
                          (f"{layer_name}:1", "must be a list"),
                          ([f"{layer_name}:2"], "does not exist"),
                          (["no-such-layer:1"], "does not exist"),
                          ([made["ref"], made["ref"]], "more than once"),
                          ([made["ref"], layer_name], "more than once"),
                          ([f"l{i}:1" for i in range(6)], "more than 5")):
        resp = api.create(fn_name, code, layers=layers)
        assert resp.status_code == 400 and match in resp.json()["error"]["message"], (layers, resp.text)
    resp = api.create(fn_name, runtime="custom-container", customContainer={"image": "x:1"}, layers=[made["ref"]])
    assert resp.status_code == 400 and "custom container has no layers" in resp.text
    assert api.request("GET", f"/v1/functions/{fn_name}").status_code == 404
    # a record's layer images are the platform's to say: a forged one in a body is an unknown field
    resp = api.create(fn_name, code, layerImages=["evil:1"])
    assert resp.status_code == 400 and "layerImages" in resp.text


class _LayerImages:
    """The builder's part a delete uses: which layer images it was asked to remove (no Docker needed here)."""

    def __init__(self):
        self.removed: list[str] = []

    async def remove_layer_images(self, name, keep):
        self.removed.append(name)


def _layer_record(ref: str):
    from faas.models import FunctionRecord, FunctionSpec, FunctionState

    return FunctionRecord(spec=FunctionSpec.from_api({"name": "f", "layers": [ref]}), state=FunctionState.ACTIVE,
                          revision=1, code_sha256=None, image="i", created_at=0.0, updated_at=0.0)


def test_a_delete_racing_a_save_that_lists_the_layer_version_is_ordered_either_way(redis_server):
    """The guard in real Redis, both orders: a save under way makes a delete wait and then see the saved function
    (409); a delete under way makes a save wait and then refuse the version it deleted (400). Without it, a delete
    that checked before the save stored its record left a function on a deleted version."""
    import asyncio
    import uuid

    from redis.asyncio import Redis

    from faas.errors import InvalidArgument, ResourceInUse
    from faas.layers.model import LayerVersion
    from faas.layers.service import LayerService
    from faas.layers.store import LayerStore

    async def scenario():
        redis = Redis.from_url(redis_server)
        store = LayerStore(redis, "guard-" + uuid.uuid4().hex[:8])
        saved: list = []
        checking = asyncio.Event()
        go_on = asyncio.Event()
        go_on.set()

        async def records():
            checking.set()
            await go_on.wait()
            return list(saved)

        service = LayerService(store, _LayerImages(), records)
        layer = LayerVersion(name="ly", version=0, description="", compatible_runtimes=("python3.11",),
                             code_sha256="0" * 64, code_size=1, image="img", created_at=0.0)
        first, second = await store.publish(layer, 10), await store.publish(layer, 10)

        # A save holds the guard: the delete waits for it, then finds the function it saved.
        async with service.pinned((f"ly:{first}",)):
            deleting = asyncio.create_task(service.delete("ly", str(first)))
            done, _ = await asyncio.wait({deleting}, timeout=1.0)
            assert not done and not checking.is_set(), "the delete looked at the functions during the save"
            saved.append(_layer_record(f"ly:{first}"))
        with pytest.raises(ResourceInUse):
            await deleting
        assert await store.get("ly", first) is not None

        # A delete holds the guard (it is reading the functions): the save waits, then refuses the deleted version.
        checking.clear()
        go_on.clear()
        deleting = asyncio.create_task(service.delete("ly", str(second)))
        await asyncio.wait_for(checking.wait(), 10)

        async def save():
            async with service.pinned((f"ly:{second}",)):
                saved.append(_layer_record(f"ly:{second}"))

        saving = asyncio.create_task(save())
        done, _ = await asyncio.wait({saving}, timeout=1.0)
        assert not done, "the save went ahead while the delete was checking"
        go_on.set()
        await deleting
        with pytest.raises(InvalidArgument, match="deleted"):
            await saving
        assert await store.get("ly", second) is None and all(r.spec.layers != (f"ly:{second}",) for r in saved)
        await redis.aclose()

    asyncio.run(scenario())
