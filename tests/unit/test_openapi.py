"""The OpenAPI document in the repository against the code: every route, and the spec's bounds."""

import json
import re

from faas import defaults
from faas.api import create_app
from faas.api.handlers import OPENAPI
from faas.config import Settings

DOC = json.loads(OPENAPI.read_text())


def test_documents_every_route_and_no_other():
    app = create_app(Settings.from_env({}))
    served = set()
    for r in app.router.routes():
        if r.resource.canonical.startswith("/console"):  # the console's static files: pages, not the API
            continue
        if r.method == "*":  # an HTTP trigger takes every method it may be configured for
            served |= {(m.lower(), r.resource.canonical) for m in defaults.HTTP_METHODS}
        elif r.method != "HEAD":
            served.add((r.method.lower(), r.resource.canonical))
    documented = {(method, path) for path, ops in DOC["paths"].items() for method in ops}
    assert documented == served


def test_operations_document_the_error_shape():
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            for status in ("400", "401", "404", "405", "500", "503"):
                assert status in op["responses"], (method, path, status)


def test_spec_bounds_are_the_code_defaults():
    props = DOC["components"]["schemas"]["FunctionCreate"]["properties"]
    ranges = {"memoryMB": (defaults.MEMORY_MB_RANGE, defaults.MEMORY_MB),
              "timeoutSeconds": (defaults.TIMEOUT_S_RANGE, defaults.TIMEOUT_S),
              "initializationTimeoutSeconds": (defaults.INIT_TIMEOUT_S_RANGE, defaults.INIT_TIMEOUT_S),
              "instanceConcurrency": (defaults.INSTANCE_CONCURRENCY_RANGE, defaults.INSTANCE_CONCURRENCY),
              "maxInstances": (defaults.MAX_INSTANCES_RANGE, defaults.MAX_INSTANCES),
              "reservedInstances": (defaults.RESERVED_INSTANCES_RANGE, 0),
              "keepAliveSeconds": (defaults.KEEP_ALIVE_S_RANGE, None),
              "pauseAfterSeconds": (defaults.PAUSE_AFTER_S_RANGE, None)}
    for field, ((low, high), default) in ranges.items():
        schema = props[field]
        assert (schema["minimum"], schema["maximum"], schema["default"]) == (low, high, default), field
    assert props["memoryMB"]["multipleOf"] == defaults.MEMORY_MB_STEP
    assert props["runtime"]["enum"] == list(defaults.RUNTIMES)
    assert DOC["components"]["schemas"]["FunctionCreate"]["properties"]["name"]["pattern"] == defaults.NAME_PATTERN
    retries = DOC["components"]["schemas"]["AsyncConfig"]["properties"]["retries"]
    assert (retries["minimum"], retries["maximum"], retries["default"]) == (*defaults.ASYNC_RETRIES_RANGE,
                                                                            defaults.ASYNC_RETRIES)
    rid = DOC["paths"]["/v1/invocations/{request_id}"]["get"]["parameters"][0]["schema"]["pattern"]
    assert rid == f"^{defaults.REQUEST_ID}$"
    for pattern, good, bad in ((rid, ["a", "A-9" * 21 + "z"], ["", "a" * 65, "a_b", "a\n", "é"]),
                               (defaults.NAME_PATTERN, ["f", "my-fn-2", "a" * 63], ["", "9f", "F", "a" * 64, "f\n"])):
        ecma = re.compile(pattern.removesuffix("$") + r"\Z")  # JSON Schema's `$` is the end of the input
        assert [g for g in good if not ecma.search(g)] == [], pattern
        assert [b for b in bad if ecma.search(b)] == [], pattern


def test_healthz_answers_its_own_shape_when_degraded():
    responses = DOC["paths"]["/healthz"]["get"]["responses"]
    for status in ("200", "503"):
        assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}


def test_every_error_code_is_documented():
    from faas import errors

    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.FaasError)}
    documented = set(DOC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert codes <= documented, codes - documented
