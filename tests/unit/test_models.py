import json
from dataclasses import fields, replace

import pytest

from faas.errors import InvalidArgument
from faas.fields import api_keys
from faas.models import AsyncConfig, BuildInfo, CustomContainer, FunctionRecord, FunctionSpec, FunctionState

FULL = {
    "name": "full", "runtime": "custom-container", "handler": "app.main", "initializer": "yes",
    "description": "every field", "memoryMB": 512, "timeoutSeconds": 5, "initializationTimeoutSeconds": 7,
    "environment": {"A": "1"}, "instanceConcurrency": 4, "maxInstances": 3, "reservedInstances": 2,
    "keepAliveSeconds": 9, "keepAlivePolicy": "fixed", "pauseAfterSeconds": 11,
    "async": {"retries": 1, "maxEventAgeSeconds": 60, "onSuccess": "queue:ok", "onFailure": "function:g"},
    "customContainer": {"image": "img:1", "command": ["run", "it"], "port": 8080, "protocol": "lambda"},
    "sandbox": "gvisor",
}
"""A spec body with a value other than the default for every field, of the spec and of its parts."""


def test_defaults_follow_the_design():
    spec = FunctionSpec.from_api({"name": "hello"})
    api = spec.to_api()
    assert api["runtime"] == "python3.11"
    assert api["handler"] == "index.handler"
    assert api["memoryMB"] == 128 and api["timeoutSeconds"] == 60
    assert api["initializationTimeoutSeconds"] == 30
    assert api["instanceConcurrency"] == 1 and api["maxInstances"] == 10
    assert api["reservedInstances"] == 0 and api["keepAliveSeconds"] is None
    assert api["keepAlivePolicy"] == "adaptive" and spec.keep_alive_cap_s == 86400  # no keepAliveSeconds: a day
    fixed = FunctionSpec.from_api({"name": "hello", "keepAlivePolicy": "fixed"})
    assert fixed.keep_alive_cap_s == 300
    assert FunctionSpec.from_api({"name": "hello", "keepAliveSeconds": 30}).keep_alive_cap_s == 30
    assert api["async"] == {"retries": 3, "maxEventAgeSeconds": None, "onSuccess": None,
                            "onFailure": "queue:dead-letter"}


@pytest.mark.parametrize("name", ["", "Hello", "1abc", "a_b", "-a", "a" * 64, None, 5, "a b", "nl\n", "a\n\n"])
def test_bad_names(name):
    with pytest.raises(InvalidArgument, match="name"):
        FunctionSpec.from_api({"name": name})


@pytest.mark.parametrize("name", ["a", "a-1", "hello-world", "a" * 63])
def test_good_names(name):
    assert FunctionSpec.from_api({"name": name}).name == name


@pytest.mark.parametrize("field,value,match", [
    ("runtime", "python2.7", "runtime"),
    ("sandbox", "gVisor", "sandbox"),
    ("sandbox", "runsc", "sandbox"),
    ("sandbox", "gvisor\n", "sandbox"),
    ("sandbox", "", "sandbox"),
    ("sandbox", 1, "sandbox"),
    ("sandbox", True, "sandbox"),
    ("sandbox", ["gvisor"], "sandbox"),
    ("handler", "index", "module.function"),
    ("handler", "index.", "module.function"),
    ("handler", "in dex.handler", "module.function"),
    ("handler", 5, "module.function"),
    ("initializer", "nodots", "module.function"),
    ("memoryMB", 64, "between"),
    ("memoryMB", 200, "multiple"),
    ("memoryMB", "128", "integer"),
    ("memoryMB", True, "integer"),
    ("timeoutSeconds", 0, "between"),
    ("timeoutSeconds", 86401, "between"),
    ("initializationTimeoutSeconds", 601, "between"),
    ("instanceConcurrency", 0, "between"),
    ("maxInstances", 101, "between"),
    ("reservedInstances", -1, "between"),
    ("keepAliveSeconds", -1, "between"),
    ("keepAliveSeconds", 10**12, "between"),
    ("keepAliveSeconds", "300", "integer"),
    ("keepAliveSeconds", "300\n", "integer"),
    ("keepAliveSeconds", True, "integer"),
    ("keepAliveSeconds", 1.5, "integer"),
    ("keepAlivePolicy", "lru", "one of"),
    ("keepAlivePolicy", "fixed\n", "one of"),
    ("keepAlivePolicy", 1, "one of"),
    ("keepAlivePolicy", ["fixed"], "one of"),
    ("keepAlivePolicy", "adaptive" * 1000, "one of"),
    ("keepAlivePolicy", "", "one of"),
    ("environment", {"1X": "a"}, "not valid"),
    ("environment", {"X": 1}, "string"),
    ("environment", {"FC_X": "a"}, "reserved"),
    ("environment", {"X": "a" * 5000}, "larger"),
    ("environment", ["X"], "object"),
    ("async", {"retries": 9}, "between"),
    ("async", {"onFailure": "http://x"}, "queue:<name>"),
    ("async", {"maxEventAgeSeconds": 0}, "between"),
    ("async", {"bogus": 1}, "unknown"),
    ("bogus", 1, "unknown"),
    ("description", "x" * 300, "description"),
    # `$` matches before a final newline: every pattern must match the whole value.
    ("handler", "index.handler\n", "module.function"),
    ("initializer", "index.init\n", "module.function"),
    ("environment", {"X\n": "a"}, "not valid"),
    ("environment", {"X": "a\0b"}, "NUL"),
    ("async", {"onFailure": "queue:x\n"}, "queue:<name>"),
    ("async", {"onSuccess": "function:f\n"}, "queue:<name>"),
    ("runtime", "python3.11\n", "runtime"),
])
def test_bad_fields(field, value, match):
    with pytest.raises(InvalidArgument, match=match):
        FunctionSpec.from_api({"name": "f", field: value})


@pytest.mark.parametrize("custom,match", [
    ({"image": "img:1\n"}, "image"),
    ({"image": "img:1", "command": ["run", "a\0"]}, "command"),
    ({"image": "img:1", "protocol": "LAMBDA"}, "protocol"),
    ({"image": "img:1", "protocol": "lambda\n"}, "protocol"),
    ({"image": "img:1", "protocol": 1}, "protocol"),
    ({"image": "img:1", "protocol": "x" * 10000}, "protocol"),
])
def test_bad_custom_container(custom, match):
    with pytest.raises(InvalidArgument, match=match):
        FunctionSpec.from_api({"name": "f", "runtime": "custom-container", "customContainer": custom})


def test_reserved_cannot_exceed_max():
    with pytest.raises(InvalidArgument, match="cannot exceed"):
        FunctionSpec.from_api({"name": "f", "maxInstances": 2, "reservedInstances": 3})


def test_body_must_be_an_object():
    with pytest.raises(InvalidArgument):
        FunctionSpec.from_api(["name"])


def test_custom_container_needs_an_image():
    with pytest.raises(InvalidArgument, match="customContainer"):
        FunctionSpec.from_api({"name": "f", "runtime": "custom-container"})
    spec = FunctionSpec.from_api({"name": "f", "runtime": "custom-container",
                                  "customContainer": {"image": "my-image:1", "port": 8080}})
    assert spec.custom_container == CustomContainer(image="my-image:1", port=8080)


def test_update_keeps_absent_fields_and_refuses_renames():
    base = FunctionSpec.from_api({"name": "f", "memoryMB": 256, "environment": {"A": "1"},
                                  "async": {"retries": 1, "onSuccess": "queue:ok"}})
    updated = FunctionSpec.from_api({"timeoutSeconds": 5, "async": {"retries": 2}}, base=base)
    assert updated.memory_mb == 256 and updated.timeout_s == 5 and updated.environment == {"A": "1"}
    assert updated.async_config == AsyncConfig(retries=2, on_success="queue:ok")
    with pytest.raises(InvalidArgument, match="cannot be changed"):
        FunctionSpec.from_api({"name": "g"}, base=base)


def test_record_round_trips_through_its_api_form():
    spec = FunctionSpec.from_api({"name": "f", "initializer": "index.init", "environment": {"A": "b"}})
    build = BuildInfo(status="succeeded", image="img:1", started_at=1.0, duration_ms=5, log="log")
    record = FunctionRecord(spec=spec, state=FunctionState.ACTIVE, revision=3, code_sha256="abc", image="img:1",
                            created_at=1.0, updated_at=2.0, last_build=build)
    again = FunctionRecord.from_api(record.to_api())
    assert again.spec == spec and again.revision == 3 and again.last_build == build
    # A record written before versions existed named its revision "version": it reads as LATEST's revision.
    old = record.to_api()
    old["version"] = old.pop("revision")
    assert FunctionRecord.from_api(old).revision == 3 and FunctionRecord.from_api(old).version_id == "LATEST"


def test_request_ids_are_unique_version_4_uuids_also_after_fork():
    import os
    import uuid

    from faas.models import new_request_id

    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122
               for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 100).decode() != new_request_id()  # the child did not reuse the parent's randomness


def test_request_ids_are_unique_across_threads():
    """Worker threads and the event loop take ids from one buffer: never the same one twice."""
    import sys
    import threading

    from faas.models import new_request_id

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows within the run
    start = threading.Barrier(8)
    taken: list[list[str]] = [[] for _ in range(8)]

    def take(out: list[str]) -> None:
        start.wait()
        out.extend(new_request_id() for _ in range(5000))

    threads = [threading.Thread(target=take, args=(out,)) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.setswitchinterval(interval)
    ids = [i for out in taken for i in out]
    assert len(ids) == 40000 and len(set(ids)) == 40000


def test_release_is_the_function_id_version_and_revision():
    spec = FunctionSpec.from_api({"name": "f"})
    one = FunctionRecord(spec=spec, state=FunctionState.ACTIVE, revision=1, code_sha256=None, image="i",
                         created_at=1.0, updated_at=1.0, function_id="aaa")
    again = one.evolve(function_id="bbb")  # deleted, then created again under the same name
    assert one.release != again.release and FunctionRecord.from_api(again.to_api()).release == ("bbb", "LATEST", 1)
    published = FunctionRecord.from_api(one.to_api(), version_id="4")
    assert published.release == ("aaa", "4", 1) and published.pool_key == "f@4" and one.pool_key == "f@LATEST"


def test_sandbox_and_its_docker_runtime():
    from faas.models import FunctionSpec

    assert FunctionSpec.from_api({"name": "f"}).sandbox is None  # the platform gives its default
    gvisor = FunctionSpec.from_api({"name": "f", "sandbox": "gvisor"})
    assert gvisor.docker_runtime == "runsc" and gvisor.to_api()["sandbox"] == "gvisor"
    assert FunctionSpec.from_api({"handler": "a.b"}, base=gvisor).sandbox == "gvisor"  # kept by an update
    assert FunctionSpec.from_api({"sandbox": None}, base=gvisor).sandbox is None
    assert FunctionSpec(name="f").docker_runtime is None  # stored before sandboxes: runc


def test_a_custom_runtime_has_its_config_and_no_other_runtime_keeps_one():
    from faas.custom import CustomRuntimeConfig

    spec = FunctionSpec.from_api({"name": "f", "runtime": "custom.debian12"})
    assert spec.custom_runtime == CustomRuntimeConfig() and spec.custom_runtime.argv == ["/code/bootstrap"]
    assert spec.serves_http and spec.port == 9000 and spec.to_api()["customRuntimeConfig"] == \
        {"command": None, "args": None, "port": 9000}
    full = FunctionSpec.from_api({"name": "f", "runtime": "custom.debian12", "initializer": "yes",
                                  "customRuntimeConfig": {"command": ["python3", "server.py"], "args": ["-v"],
                                                          "port": 8080}})
    assert full.custom_runtime.argv == ["python3", "server.py", "-v"] and full.port == 8080
    assert FunctionSpec.from_api(full.to_api()) == full and full.initializer == "yes"
    kept = FunctionSpec.from_api({"memoryMB": 256}, base=full)
    assert kept.custom_runtime == full.custom_runtime  # left out of an update: kept
    python = FunctionSpec.from_api({"runtime": "python3.13", "initializer": None}, base=full)
    assert python.custom_runtime is None and not python.serves_http and python.port == 9000
    for bad, message in (({"customRuntimeConfig": []}, "must be an object"),
                         ({"customRuntimeConfig": {"command": []}}, "non-empty list"),
                         ({"customRuntimeConfig": {"command": ["a\0b"]}}, "no NUL"),
                         ({"customRuntimeConfig": {"args": "x"}}, "list of at most 64"),
                         ({"customRuntimeConfig": {"args": ["x"] * 65}}, "list of at most 64"),
                         ({"customRuntimeConfig": {"port": 0}}, "between 1 and 65535"),
                         ({"customRuntimeConfig": {"port": "9000\n"}}, "integer"),
                         ({"customRuntimeConfig": {"healthCheckConfig": {}}}, "unknown field"),
                         ({"handlerType": "wsgi"}, "serves HTTP itself"),
                         ({"runtime": "custom.debian12\n"}, "runtime must be one of"),
                         ({"runtime": "python3.12"}, "python3.13")):
        with pytest.raises(InvalidArgument, match=message):
            FunctionSpec.from_api({"name": "f", "runtime": "custom.debian12"} | bad)


def _defaults_kept(obj, default) -> list[str]:
    return [f.name for f in fields(obj) if getattr(obj, f.name) == getattr(default, f.name)]


PYTHON_ONLY = {"handlerType": "wsgi", "layers": ["numpy:3", "utils:1"]}
"""Fields FULL (a custom container) cannot set to other than their default."""


def test_every_declared_field_round_trips_through_its_api_form():
    spec = FunctionSpec.from_api(FULL)
    # FULL sets every field (a field declared later must be added to it, or to PYTHON_ONLY), so each one is
    # read and written.
    python = FunctionSpec.from_api({k: v for k, v in FULL.items() if k not in ("runtime", "customContainer")}
                                   | {"initializer": "app.init"} | PYTHON_ONLY)
    assert _defaults_kept(spec, FunctionSpec(name="f")) == ["handler_type", "custom_runtime", "layers"]
    assert python.handler_type == "wsgi" and python.to_api()["handlerType"] == "wsgi"
    assert python.layers == ("numpy:3", "utils:1") and python.to_api()["layers"] == ["numpy:3", "utils:1"]
    assert FunctionSpec.from_api(python.to_api()) == python
    assert _defaults_kept(spec.async_config, AsyncConfig()) == []
    assert _defaults_kept(spec.custom_container, CustomContainer(image="x:1")) == []
    assert spec.to_api() == FULL | {"handlerType": "event", "customRuntimeConfig": None, "layers": []} and \
        [k for k in spec.to_api() if k not in PYTHON_ONLY and k != "customRuntimeConfig"] == list(FULL)  # in order
    assert FunctionSpec.from_api(json.loads(json.dumps(spec.to_api()))) == spec
    assert FunctionRecord.from_api(FunctionRecord(spec=spec, state=FunctionState.ACTIVE, revision=1, code_sha256=None,
                                                  image="i", created_at=1.0, updated_at=1.0).to_api()).spec == spec


def test_an_update_keeps_every_field_it_leaves_out():
    spec = FunctionSpec.from_api(FULL)
    assert FunctionSpec.from_api({}, base=spec) == spec
    assert FunctionSpec.from_api({"name": "full", "description": "x"}, base=spec) == replace(spec, description="x")
    assert FunctionSpec.from_api({"async": {"retries": 2}}, base=spec).async_config == \
        replace(spec.async_config, retries=2)
    assert FunctionSpec.from_api({"async": None}, base=spec).async_config == AsyncConfig()


def test_a_runtime_change_checks_again_what_depends_on_the_runtime():
    custom = FunctionSpec.from_api(FULL)
    with pytest.raises(InvalidArgument, match="initializer must have the form module.function"):
        FunctionSpec.from_api({"runtime": "python3.11"}, base=custom)  # "yes" is a flag, not a module.function
    python = FunctionSpec.from_api({"runtime": "python3.11", "initializer": None}, base=custom)
    assert python.custom_container is None and python.initializer is None
    with pytest.raises(InvalidArgument, match="needs customContainer.image"):
        FunctionSpec.from_api({"runtime": "custom-container"}, base=python)


@pytest.mark.parametrize("body,match", [
    ({"name": "f", "zzz": 1, "memorymb": 128}, r"unknown field\(s\) in the function spec: memorymb, zzz$"),
    ({"name": "f", "async": {"retries": 1, "bogus": 1}}, r"unknown field\(s\) in async: bogus$"),
    ({"name": "f", "runtime": "custom-container", "customContainer": {"image": "i:1", "Port": 1}},
     r"unknown field\(s\) in customContainer: Port$"),
    ({"name": "f", "functionId": "x"}, r"unknown field\(s\) in the function spec: functionId$"),
])
def test_unknown_keys_are_refused(body, match):
    with pytest.raises(InvalidArgument, match=match):
        FunctionSpec.from_api(body)


def test_a_body_may_carry_its_code_beside_the_spec():
    spec = FunctionSpec.from_api({"name": "f", "code": {"zipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}})
    assert "code" not in spec.to_api() and spec == FunctionSpec.from_api({"name": "f"})


def test_the_openapi_document_names_every_declared_field():
    from faas.api.handlers import OPENAPI

    schemas = json.loads(OPENAPI.read_text())["components"]["schemas"]
    declared = api_keys(FunctionSpec)
    for body in ("FunctionCreate", "FunctionUpdate"):
        assert set(schemas[body]["properties"]) == declared | FunctionSpec.BODY_ONLY, body
    assert declared <= set(schemas["Function"]["properties"])
    assert set(schemas["AsyncConfig"]["properties"]) == api_keys(AsyncConfig)
    assert set(schemas["CustomContainer"]["properties"]) == api_keys(CustomContainer)
