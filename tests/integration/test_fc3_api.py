"""FC 3.0's API driven by its own SDK (alibabacloud-fc20230330) against a real plat, and every way a
signed request can be wrong, sent raw: FC's error shape, 403 before anything else happens."""

import base64
import functools
import hashlib
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from alibabacloud_fc20230330 import models as fc
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from helpers import code_b64, make_access_key, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

HANDLER = """
import json
def handler(event, context):
    print("got", event)
    if event == b"fail":
        raise ValueError("asked to fail")
    return {"echo": event.decode(), "function": context.function.name}
"""


def client(plat, key: tuple[str, str]) -> Client:
    return Client(Config(access_key_id=key[0], access_key_secret=key[1], endpoint=f"127.0.0.1:{plat.port}",
                         protocol="http", read_timeout=120_000))


@pytest.fixture(scope="module")
def plat(platform):
    """The platform (without async workers: an async InvokeFunction is checked to be stored as the /v1 API's
    would be; test_async runs them). The async stack's 1 s FAAS_QUEUE_TIMEOUT would make a slow cold start a 429."""
    return platform


@pytest.fixture(scope="module")
def admin_key(plat):
    return make_access_key(plat, "admin", "fc3-admin")


@pytest.fixture(scope="module")
def invoke_key(plat):
    return make_access_key(plat, "invoke", "fc3-invoke")


def create(sdk: Client, name: str, runtime="python3.10", **fields):
    body = fc.CreateFunctionInput(function_name=name, runtime=runtime, handler="index.handler",
                                  memory_size=128, code=fc.InputCodeLocation(zip_file=code_b64({"index.py": HANDLER})),
                                  **fields)
    return sdk.create_function(fc.CreateFunctionRequest(body=body)).body


def sdk_error(call) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


def test_create_get_update_invoke_and_delete_through_the_sdk(plat, admin_key, invoke_key, fn_name):
    sdk, invoker = client(plat, admin_key), client(plat, invoke_key)
    made = create(sdk, fn_name, description="made by the FC 3.0 SDK", environment_variables={"GREETING": "hi"},
                  tags=[], disk_size=512)
    assert made.function_name == fn_name and made.runtime == "python3.11" and made.state == "Active"
    assert made.memory_size == 128 and made.environment_variables == {"GREETING": "hi"}
    assert made.function_arn.endswith(f"functions/{fn_name}") and made.created_time.endswith("Z")
    got = sdk.get_function(fn_name, fc.GetFunctionRequest()).body
    assert got.description == "made by the FC 3.0 SDK" and got.handler == "index.handler"
    updated = sdk.update_function(fn_name, fc.UpdateFunctionRequest(
        body=fc.UpdateFunctionInput(timeout=30, memory_size=256))).body
    assert updated.timeout == 30 and updated.memory_size == 256 and updated.description == "made by the FC 3.0 SDK"
    # The same function through /v1: one core.
    assert plat.api.request("GET", f"/v1/functions/{fn_name}").json()["memoryMB"] == 256

    resp = invoker.invoke_function_with_options(
        fn_name, fc.InvokeFunctionRequest(body=b"ping"),
        fc.InvokeFunctionHeaders(x_fc_invocation_type="Sync", x_fc_log_type="Tail"), RuntimeOptions())
    assert resp.status_code == 200
    assert json.loads(resp.body.read()) == {"echo": "ping", "function": fn_name}
    request_id = resp.headers["x-fc-request-id"]
    tail = base64.b64decode(resp.headers["x-fc-log-result"]).decode()
    assert "got b'ping'" in tail and f"REPORT RequestId: {request_id}" in tail

    failed = invoker.invoke_function(fn_name, fc.InvokeFunctionRequest(body=b"fail"))
    assert failed.status_code == 200 and failed.headers["x-fc-error-type"] == "HandledInvocationError"
    assert json.loads(failed.body.read())["errorMessage"] == "asked to fail"

    queued = invoker.invoke_function_with_options(
        fn_name, fc.InvokeFunctionRequest(body=b"later"), fc.InvokeFunctionHeaders(x_fc_invocation_type="Async"),
        RuntimeOptions())
    assert queued.status_code == 202 and queued.body.read() == b""
    task = queued.headers["x-fc-request-id"]
    record = plat.api.request("GET", f"/v1/invocations/{task}").json()
    assert record["functionName"] == fn_name and record["status"] in ("queued", "running", "succeeded"), record
    # The same invocation as FC's async task (this platform fixture runs no workers: it stays queued).
    seen = invoker.get_async_task(fn_name, task, fc.GetAsyncTaskRequest()).body
    assert seen.task_id == task and seen.status == "Enqueued" and seen.function_arn.endswith(fn_name)
    listed = invoker.list_async_tasks(fn_name, fc.ListAsyncTasksRequest(status="Enqueued", limit=10)).body
    assert [t.task_id for t in listed.tasks] == [task]
    assert invoker.list_async_tasks(fn_name, fc.ListAsyncTasksRequest(status="Succeeded")).body.tasks == []
    unknown = sdk_error(lambda: invoker.get_async_task(fn_name, "no-such-task", fc.GetAsyncTaskRequest()))
    assert unknown.code == "InvocationNotFound" and unknown.status_code == 404

    sdk.delete_function(fn_name)
    missing = sdk_error(lambda: sdk.get_function(fn_name, fc.GetFunctionRequest()))
    assert missing.code == "FunctionNotFound" and missing.status_code == 404 and missing.request_id != "None"
    missing = sdk_error(lambda: invoker.invoke_function(fn_name, fc.InvokeFunctionRequest(body=b"x")))
    assert missing.code == "FunctionNotFound"


def test_async_tasks_with_their_own_ids_paged_and_stopped_through_the_sdk(plat, admin_key, invoke_key, fn_name):
    sdk, invoker = client(plat, admin_key), client(plat, invoke_key)
    create(sdk, fn_name)

    def submit(task_id: str | None = None):
        headers = fc.InvokeFunctionHeaders(x_fc_invocation_type="Async", x_fc_async_task_id=task_id)
        return invoker.invoke_function_with_options(fn_name, fc.InvokeFunctionRequest(body=b"e"), headers,
                                                    RuntimeOptions())

    mine = f"task-{fn_name}"
    assert submit(mine).headers["x-fc-request-id"] == mine
    again = sdk_error(lambda: submit(mine))  # FC's task deduplication: a second try with the id is refused
    assert again.code == "InvocationAlreadyExists" and again.status_code == 409
    others = [submit().headers["x-fc-request-id"] for _ in range(2)]
    stolen = sdk_error(lambda: submit(others[0]))  # an id the platform made is taken too
    assert stolen.code == "InvocationAlreadyExists"
    for bad in ("a_b", "x" * 65, "init-1"):
        refused = sdk_error(functools.partial(submit, bad))
        assert refused.code == "InvalidArgument" and "x-fc-async-task-id" in refused.message, bad

    # Newest first, two to a page.
    first = invoker.list_async_tasks(fn_name, fc.ListAsyncTasksRequest(limit=2)).body
    assert [t.task_id for t in first.tasks] == others[::-1] and first.next_token
    second = invoker.list_async_tasks(fn_name, fc.ListAsyncTasksRequest(limit=2, next_token=first.next_token)).body
    assert [t.task_id for t in second.tasks] == [mine] and not second.next_token
    stale = sdk_error(lambda: invoker.list_async_tasks(fn_name, fc.ListAsyncTasksRequest(next_token="nope")))
    assert stale.code == "InvalidArgument"

    # No worker runs on this platform: the stop is asked for, and the task shows Stopping until one would end it.
    invoker.stop_async_task(fn_name, mine, fc.StopAsyncTaskRequest())
    assert invoker.get_async_task(fn_name, mine, fc.GetAsyncTaskRequest()).body.status == "Stopping"
    stopping = invoker.list_async_tasks(fn_name, fc.ListAsyncTasksRequest(status="Stopping")).body
    assert [t.task_id for t in stopping.tasks] == [mine]
    invoker.stop_async_task(fn_name, mine, fc.StopAsyncTaskRequest())  # again: no error
    unknown = sdk_error(lambda: invoker.stop_async_task(fn_name, "no-such-task", fc.StopAsyncTaskRequest()))
    assert unknown.code == "InvocationNotFound" and unknown.status_code == 404
    sdk.delete_function(fn_name)


def test_list_functions_pages_with_prefix_limit_and_next_token(plat, admin_key, fn_name):
    sdk = client(plat, admin_key)
    names = [f"{fn_name}-{i}" for i in range(3)]
    for name in names:
        create(sdk, name)
    first = sdk.list_functions(fc.ListFunctionsRequest(prefix=fn_name, limit=2)).body
    assert [f.function_name for f in first.functions] == names[:2] and first.next_token
    second = sdk.list_functions(fc.ListFunctionsRequest(prefix=fn_name, limit=2, next_token=first.next_token)).body
    assert [f.function_name for f in second.functions] == names[2:] and not second.next_token
    bad = sdk_error(lambda: sdk.list_functions(fc.ListFunctionsRequest(limit=1000)))
    assert bad.code == "InvalidArgument" and bad.status_code == 400
    for name in names:
        sdk.delete_function(name)


def test_versions_and_a_weighted_alias_through_the_sdk(plat, admin_key, fn_name):
    sdk = client(plat, admin_key)
    create(sdk, fn_name)
    first = sdk.publish_function_version(fn_name, fc.PublishFunctionVersionRequest(
        body=fc.PublishVersionInput(description="one"))).body
    assert first.version_id == "1" and first.description == "one" and first.created_time.endswith("Z")
    sdk.update_function(fn_name, fc.UpdateFunctionRequest(body=fc.UpdateFunctionInput(timeout=20)))
    second = sdk.publish_function_version(fn_name, fc.PublishFunctionVersionRequest()).body
    assert second.version_id == "2"
    again = sdk_error(lambda: sdk.publish_function_version(fn_name, fc.PublishFunctionVersionRequest()))
    assert again.code == "NothingToPublish" and again.status_code == 409
    listed = sdk.list_function_versions(fn_name, fc.ListFunctionVersionsRequest(limit=1)).body
    assert [v.version_id for v in listed.versions] == ["2"] and listed.next_token == "1"
    rest = sdk.list_function_versions(fn_name, fc.ListFunctionVersionsRequest(limit=1, next_token="1")).body
    assert [v.version_id for v in rest.versions] == ["1"] and not rest.next_token

    alias = sdk.create_alias(fn_name, fc.CreateAliasRequest(body=fc.CreateAliasInput(
        alias_name="prod", version_id="1", additional_version_weight={"2": 0.5}, description="canary"))).body
    assert (alias.alias_name, alias.version_id, alias.additional_version_weight) == ("prod", "1", {"2": 0.5})
    shown = {q: sdk.get_function(fn_name, fc.GetFunctionRequest(qualifier=q)).body.timeout
             for q in ("LATEST", "1", "2", "prod")}
    assert shown["LATEST"] == 20 and shown["2"] == 20 and shown["1"] == shown["prod"] != 20  # prod: its main version
    ran = set()
    for _ in range(40):
        resp = sdk.invoke_function(fn_name, fc.InvokeFunctionRequest(body=b"v", qualifier="prod"))
        ran.add(resp.headers["x-fc-function-version"])
    assert ran == {"1", "2"}  # 40 calls at 50 %: both run (a miss is 2 ** -39)
    moved = sdk.update_alias(fn_name, "prod", fc.UpdateAliasRequest(body=fc.UpdateAliasInput(
        version_id="2", additional_version_weight={}))).body
    assert moved.version_id == "2" and moved.additional_version_weight == {}
    assert sdk.get_alias(fn_name, "prod").body.version_id == "2"
    assert [a.alias_name for a in sdk.list_aliases(fn_name, fc.ListAliasesRequest()).body.aliases] == ["prod"]
    in_use = sdk_error(lambda: sdk.delete_function_version(fn_name, "2"))
    assert in_use.status_code == 409
    sdk.delete_alias(fn_name, "prod")
    assert sdk_error(lambda: sdk.get_alias(fn_name, "prod")).code == "AliasNotFound"
    sdk.delete_function_version(fn_name, "1")
    assert sdk_error(lambda: sdk.delete_function_version(fn_name, "1")).code == "VersionNotFound"
    backward = sdk_error(lambda: sdk.list_function_versions(fn_name, fc.ListFunctionVersionsRequest(
        direction="FORWARD")))
    assert backward.code == "InvalidArgument" and "BACKWARD" in backward.message
    sdk.delete_function(fn_name)


def test_provision_concurrency_and_async_invoke_configs_through_the_sdk(plat, admin_key, fn_name):
    sdk = client(plat, admin_key)
    create(sdk, fn_name)
    put = sdk.put_provision_config(fn_name, fc.PutProvisionConfigRequest(
        qualifier="LATEST", body=fc.PutProvisionConfigInput(default_target=1))).body
    assert put.target == 1 and put.function_arn.endswith(fn_name)
    wait_for(lambda: sdk.get_provision_config(fn_name, fc.GetProvisionConfigRequest(qualifier="LATEST")).body.current
             == 1, timeout=60, what="the reserved container to be ready")
    assert plat.api.request("GET", f"/v1/functions/{fn_name}").json()["reservedInstances"] == 1  # one core
    sdk.delete_provision_config(fn_name, fc.DeleteProvisionConfigRequest(qualifier="LATEST"))
    assert sdk.get_provision_config(fn_name, fc.GetProvisionConfigRequest(qualifier="LATEST")).body.target == 0
    schedule = fc.PutProvisionConfigInput(target=1, scheduled_actions=[fc.ScheduledAction(name="a", target=2)])
    refused = sdk_error(lambda: sdk.put_provision_config(fn_name, fc.PutProvisionConfigRequest(body=schedule)))
    assert refused.code == "InvalidArgument" and "scheduledActions" in refused.message

    limited = sdk.put_concurrency_config(fn_name, fc.PutConcurrencyConfigRequest(
        body=fc.PutConcurrencyInput(reserved_concurrency=3))).body
    assert limited.reserved_concurrency == 3 and sdk.get_concurrency_config(fn_name).body.reserved_concurrency == 3
    assert plat.api.request("GET", f"/v1/functions/{fn_name}").json()["maxInstances"] == 3
    stop = sdk_error(lambda: sdk.put_concurrency_config(fn_name, fc.PutConcurrencyConfigRequest(
        body=fc.PutConcurrencyInput(reserved_concurrency=0))))
    assert stop.code == "InvalidArgument" and "maxInstances" in stop.message
    sdk.delete_concurrency_config(fn_name)
    assert sdk.get_concurrency_config(fn_name).body.reserved_concurrency == 10

    queue = "acs:mns:cn-hangzhou:123:/queues/fc3-done/messages"
    config = sdk.put_async_invoke_config(fn_name, fc.PutAsyncInvokeConfigRequest(
        qualifier="LATEST", body=fc.PutAsyncInvokeConfigInput(
            max_async_retry_attempts=1, max_async_event_age_in_seconds=300,
            destination_config=fc.DestinationConfig(on_success=fc.Destination(destination=queue))))).body
    assert config.max_async_retry_attempts == 1 and config.max_async_event_age_in_seconds == 300
    assert config.destination_config.on_success.destination == "acs:mns:local:platform:/queues/fc3-done/messages"
    native = plat.api.request("GET", f"/v1/functions/{fn_name}").json()["async"]
    assert native["onSuccess"] == "queue:fc3-done" and native["retries"] == 1
    got = sdk.get_async_invoke_config(fn_name, fc.GetAsyncInvokeConfigRequest(qualifier="LATEST")).body
    assert got.max_async_retry_attempts == 1
    sdk.delete_async_invoke_config(fn_name, fc.DeleteAsyncInvokeConfigRequest(qualifier="LATEST"))
    assert plat.api.request("GET", f"/v1/functions/{fn_name}").json()["async"]["onSuccess"] is None
    for body, named in ((fc.PutAsyncInvokeConfigInput(max_async_retry_attempts=99), "retries"),
                        (fc.PutAsyncInvokeConfigInput(destination_config=fc.DestinationConfig(
                            on_failure=fc.Destination(destination="arn:aws:sqs:x"))), "destination")):
        error = sdk_error(functools.partial(sdk.put_async_invoke_config, fn_name,
                                            fc.PutAsyncInvokeConfigRequest(body=body)))
        assert error.code == "InvalidArgument" and named in error.message, error.message
    sdk.delete_function(fn_name)


def test_http_and_timer_triggers_through_the_sdk(plat, admin_key, fn_name):
    sdk = client(plat, admin_key)
    create(sdk, fn_name)
    http_config = json.dumps({"authType": "anonymous", "methods": ["GET", "POST"], "disableURLInternet": False})
    made = sdk.create_trigger(fn_name, fc.CreateTriggerRequest(body=fc.CreateTriggerInput(
        trigger_name="web", trigger_type="http", trigger_config=http_config))).body
    assert made.trigger_type == "http" and json.loads(made.trigger_config)["authType"] == "anonymous"
    url = made.http_trigger.url_internet
    assert url.startswith(plat.url)
    resp = requests.post(url, data=b"through the trigger", timeout=30)
    assert resp.status_code == 200, resp.text
    timer = sdk.create_trigger(fn_name, fc.CreateTriggerRequest(body=fc.CreateTriggerInput(
        trigger_name="nightly", trigger_type="timer", qualifier="LATEST",
        trigger_config=json.dumps({"cronExpression": "0 0 3 * * *", "enable": True, "payload": "night"})))).body
    assert json.loads(timer.trigger_config)["cronExpression"] == "0 0 3 * * *"
    changed = sdk.update_trigger(fn_name, "nightly", fc.UpdateTriggerRequest(body=fc.UpdateTriggerInput(
        trigger_config=json.dumps({"cronExpression": "0 30 3 * * *", "enable": False})))).body
    assert json.loads(changed.trigger_config) == {"cronExpression": "0 30 3 * * *", "payload": "", "enable": False}
    first = sdk.list_triggers(fn_name, fc.ListTriggersRequest(limit=1)).body
    assert [t.trigger_name for t in first.triggers] == ["nightly"] and first.next_token
    rest = sdk.list_triggers(fn_name, fc.ListTriggersRequest(limit=1, next_token=first.next_token)).body
    assert [t.trigger_name for t in rest.triggers] == ["web"] and not rest.next_token
    for config, named in (('{"authType": "anonymous", "corsConfig": {"allowOrigins": ["*"]}}', "corsConfig"),
                          ("not json", "triggerConfig"), ('{"authType": "signature"}', "authType")):
        error = sdk_error(functools.partial(sdk.create_trigger, fn_name, fc.CreateTriggerRequest(
            body=fc.CreateTriggerInput(trigger_name="bad", trigger_type="http", trigger_config=config))))
        assert error.code == "InvalidArgument" and named in error.message, error.message
    sdk.delete_trigger(fn_name, "web")
    assert sdk_error(lambda: sdk.get_trigger(fn_name, "web")).code == "TriggerNotFound"
    assert sdk.get_trigger(fn_name, "nightly").body.trigger_type == "timer"
    sdk.delete_function(fn_name)


def test_fc_names_with_capitals_and_underscores_are_functions_of_their_own(plat, admin_key, fn_name):
    from faas.compat.names import derived

    sdk = client(plat, admin_key)
    upper, lower = "Fc_" + fn_name.replace("-", "_"), "fc_" + fn_name.replace("-", "_")
    assert create(sdk, upper).function_name == upper
    assert create(sdk, lower).function_name == lower
    assert derived(upper) != derived(lower)
    for name in (upper, lower):
        resp = sdk.invoke_function(name, fc.InvokeFunctionRequest(body=b"hi"))
        assert json.loads(resp.body.read())["echo"] == "hi"
        # Through /v1 under its platform name, the same function.
        native = plat.api.request("POST", f"/v1/functions/{derived(name)}/invocations", data=b"v1")
        assert native.status_code == 200 and native.json()["echo"] == "v1"
    listed = sdk.list_functions(fc.ListFunctionsRequest(prefix="Fc_" + fn_name.replace("-", "_")[:10])).body
    assert [f.function_name for f in listed.functions] == [upper]
    sdk.delete_function(upper)
    assert sdk_error(lambda: sdk.get_function(upper, fc.GetFunctionRequest())).code == "FunctionNotFound"
    assert sdk.get_function(lower, fc.GetFunctionRequest()).body.function_name == lower
    sdk.delete_function(lower)
    # A platform name taken through /v1 first is refused, not shared; the FC name is free again once it goes.
    taken = "Taken_" + fn_name.replace("-", "_")
    plat.api.deploy(derived(taken), {"index.py": HANDLER})
    clash = sdk_error(lambda: create(sdk, taken))
    assert clash.code == "FunctionAlreadyExists" and clash.status_code == 409
    assert plat.api.request("DELETE", f"/v1/functions/{derived(taken)}").status_code == 204
    assert create(sdk, taken).function_name == taken
    sdk.delete_function(taken)
    bad = sdk_error(lambda: sdk.get_function("9starts-with-a-digit", fc.GetFunctionRequest()))
    assert bad.code == "InvalidArgument"


def test_fc_runtimes_run_on_the_nearest_interpreter_and_the_custom_runtime_takes_its_config(plat, admin_key,
                                                                                             fn_name):
    sdk = client(plat, admin_key)
    made = create(sdk, fn_name, runtime="python3.12")  # 3.12's code may use what 3.11 lacks: it runs on 3.13
    assert made.runtime == "python3.13"
    got = sdk.invoke_function(fn_name, fc.InvokeFunctionRequest(body=b"which"))
    assert got.status_code == 200 and json.loads(got.body.read())["echo"] == "which"
    sdk.delete_function(fn_name)
    server = ("import http.server, os\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_POST(self):\n"
              "        self.send_response(200)\n"
              "        self.send_header('Content-Length', '6')\n"
              "        self.end_headers()\n"
              "        self.wfile.write(b'custom')\n"
              "http.server.ThreadingHTTPServer(('0.0.0.0', int(os.environ['FC_SERVER_PORT'])), H).serve_forever()\n")
    body = fc.CreateFunctionInput(
        function_name=fn_name, runtime="custom.debian10", handler="index.handler", memory_size=128,
        code=fc.InputCodeLocation(zip_file=code_b64({"server.py": server})),
        custom_runtime_config=fc.CustomRuntimeConfig(command=["python3"], args=["/code/server.py"], port=9100))
    made = sdk.create_function(fc.CreateFunctionRequest(body=body)).body
    assert made.runtime == "custom.debian12" and made.custom_runtime_config.port == 9100
    assert made.custom_runtime_config.command == ["python3"] and made.custom_runtime_config.args == ["/code/server.py"]
    got = sdk.invoke_function(fn_name, fc.InvokeFunctionRequest(body=b"x"))
    assert got.status_code == 200 and got.body.read() == b"custom"
    sdk.delete_function(fn_name)
    body.custom_runtime_config = fc.CustomRuntimeConfig(
        command=["python3"], health_check_config=fc.CustomHealthCheckConfig(http_get_url="/ready"))
    error = sdk_error(lambda: sdk.create_function(fc.CreateFunctionRequest(body=body)))
    assert error.code == "InvalidArgument" and "healthCheckConfig" in error.message


def test_fields_the_platform_lacks_are_refused_by_name_unless_empty(plat, admin_key, fn_name):
    sdk = client(plat, admin_key)
    for fields, named in ((dict(vpc_config=fc.VPCConfig(vpc_id="vpc-1")), "vpcConfig"),
                          (dict(role="acs:ram::1:role/fc"), "role"),
                          (dict(runtime="python3"), "runtime"),  # (3.6: its code may use what 3.11 removed)
                          (dict(internet_access=False), "internetAccess"),
                          (dict(tags=[fc.Tag(key="k", value="v")]), "tags")):
        error = sdk_error(functools.partial(create, sdk, fn_name, **fields))
        assert error.code == "InvalidArgument" and named in error.message, (named, error.message)
    made = create(sdk, fn_name, vpc_config=fc.VPCConfig(), role="", log_config=fc.LogConfig())
    assert made.function_name == fn_name
    sdk.delete_function(fn_name)


def test_an_invoke_key_cannot_manage_and_a_revoked_key_stops_at_once(plat, admin_key, fn_name):
    invoke_only = make_access_key(plat, "invoke", "fc3-invoke")
    denied = sdk_error(lambda: create(client(plat, invoke_only), fn_name))
    assert denied.code == "AccessDenied" and denied.status_code == 403
    key = make_access_key(plat, "admin", "fc3-admin")
    sdk = client(plat, key)
    assert sdk.list_functions(fc.ListFunctionsRequest(limit=1)).status_code == 200
    assert plat.api.request("DELETE", f"/v1/access-keys/{key[0]}").status_code == 204
    gone = sdk_error(lambda: sdk.list_functions(fc.ListFunctionsRequest(limit=1)))
    assert gone.code == "InvalidAccessKeyId.NotFound" and gone.status_code == 403
    wrong = sdk_error(lambda: client(plat, (admin_key[0], admin_key[1] + "x")).list_functions(
        fc.ListFunctionsRequest(limit=1)))
    assert wrong.code == "SignatureNotMatch"
    listed = plat.api.request("GET", "/v1/access-keys").json()["accessKeys"]
    assert admin_key[0] in {k["accessKeyId"] for k in listed} and key[0] not in {k["accessKeyId"] for k in listed}
    assert all("accessKeySecret" not in k for k in listed)
    assert plat.api.request("DELETE", f"/v1/access-keys/{key[0]}").json()["error"]["code"] == "AccessKeyNotFound"


# -- raw requests: what the SDK would never send
def signed(plat, key, method="GET", path="/2023-03-30/functions", query="limit=1", body=b"", headers=(),
           date=None, nonce=None, sign_as=None):
    """A request signed as the SDK signs it (faas.signing's canonical form, which the unit tests check against
    the SDK's own vectors); `sign_as` signs other values than those sent ({header: value})."""
    from multidict import CIMultiDict, CIMultiDictProxy

    from faas.signing import Request, acs3

    sent = {"host": f"127.0.0.1:{plat.port}",
            "x-acs-date": date or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": hashlib.sha256(body).hexdigest(), "x-acs-version": "2023-03-30", **dict(headers)}
    names = tuple(sorted(sent))
    view = CIMultiDictProxy(CIMultiDict({**sent, **(sign_as or {})}))
    canonical = acs3.canonical_request(Request(method, path, query, view), names)
    auth = f"ACS3-HMAC-SHA256 Credential={key[0]},SignedHeaders={';'.join(names)}," \
           f"Signature={acs3.sign(canonical, key[1])}"
    return requests.Request(method, f"{plat.url}{path}?{query}" if query else f"{plat.url}{path}",
                            headers={**sent, "Authorization": auth}, data=body).prepare()


def send(prepared) -> requests.Response:
    with requests.Session() as session:
        return session.send(prepared, timeout=60)


def assert_denied(resp, code, why=""):
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["Code"] == code and body["RequestId"] and why in body["Message"], body


def test_a_request_signed_right_passes_and_every_change_to_it_is_refused(plat, admin_key):
    assert send(signed(plat, admin_key)).status_code == 200
    ok = signed(plat, admin_key, nonce="replayed-" + uuid.uuid4().hex)
    assert send(ok).status_code == 200
    assert_denied(send(ok), "SignatureNonceUsed")  # the very same request again
    assert_denied(send(signed(plat, admin_key, sign_as={"x-acs-version": "2023-03-31"})), "SignatureNotMatch")
    assert_denied(send(signed(plat, admin_key, sign_as={"host": "elsewhere:80"})), "SignatureNotMatch")
    changed_query = signed(plat, admin_key)
    changed_query.url = changed_query.url.replace("limit=1", "limit=2")
    assert_denied(send(changed_query), "SignatureNotMatch")
    changed_path = signed(plat, admin_key)
    changed_path.url = changed_path.url.replace("/functions?", "/functions/x?")
    assert_denied(send(changed_path), "SignatureNotMatch")
    body = json.dumps({"functionName": "x"}).encode()
    changed_body = signed(plat, admin_key, "POST", query="", body=body)
    changed_body.body = body.replace(b"x", b"y")
    assert_denied(send(changed_body), "InvalidSignature", "SHA-256 of the body")
    added = signed(plat, admin_key)
    added.headers["x-fc-invocation-type"] = "Async"
    assert_denied(send(added), "InvalidSignature", "not signed")
    old = (datetime.now(timezone.utc) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert_denied(send(signed(plat, admin_key, date=old)), "InvalidSignature", "minutes")
    assert_denied(send(signed(plat, ("FK" + "0" * 18, admin_key[1]))), "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize("authorization, why", [
    (None, "not signed"),
    ("Bearer x", "algorithm"),
    ("ACS3-HMAC-SHA256 Credential=FKX,SignedHeaders=host,Signature=" + "0" * 64, "must include"),
    ("ACS3-HMAC-SHA256 Credential=" + "A" * 3000 + ",SignedHeaders=host,Signature=" + "0" * 64, "access key id"),
    ("ACS3-HMAC-SHA256 Credential=FKX,SignedHeaders=host;zz-absent;x-acs-content-sha256;x-acs-date;"
     "x-acs-signature-nonce,Signature=" + "0" * 64, "sorted"),
])
def test_malformed_authorization_headers_are_refused(plat, authorization, why):
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = requests.get(f"{plat.url}/2023-03-30/functions", headers=headers, timeout=30)
    assert_denied(resp, "InvalidSignature", why)


def test_an_unsigned_request_is_refused_before_its_body_is_read(plat):
    """A head that no key signed is answered at once: its body (said to be 50 MB, never sent) is not waited for."""
    import socket
    head = (f"POST /2023-03-30/functions HTTP/1.1\r\nHost: 127.0.0.1:{plat.port}\r\n"
            "Authorization: ACS3-HMAC-SHA256 Credential=FK000000000000000000,SignedHeaders=host;x-acs-content-sha256;"
            f"x-acs-date;x-acs-signature-nonce,Signature={'0' * 64}\r\nx-acs-content-sha256: {'0' * 64}\r\n"
            f"x-acs-date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\r\nx-acs-signature-nonce: n1\r\n"
            "Content-Length: 52428800\r\n\r\n")
    with socket.create_connection(("127.0.0.1", plat.port), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(65536)  # (a server waiting for the body would time out here)
    assert answer.startswith(b"HTTP/1.1 403") and b"InvalidAccessKeyId.NotFound" in answer, answer


def test_hostile_bodies_names_and_sizes_in_signed_requests(plat, admin_key):
    """Signed, so past the signature: what the handlers then read is checked, in FC's shape."""
    for body in (b"{not json", b"[1, 2]", b'{"functionName": "x", "runtime": "python3.10", "bogus": 1}'):
        resp = send(signed(plat, admin_key, "POST", query="", body=body))
        assert resp.status_code == 400 and resp.json()["Code"] == "InvalidArgument", (body, resp.text)
    for name in ("a" * 129, "name%0A", "9digit", "sl%2Fash"):
        resp = send(signed(plat, admin_key, path=f"/2023-03-30/functions/{name}", query=""))
        assert resp.status_code == 400 and "functionName" in resp.json()["Message"], (name, resp.text)
    # A body declared past the limit is refused from its length, never read.
    import socket
    big = signed(plat, admin_key, "POST", query="")
    head = f"POST {big.path_url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in big.headers.items()
                                                           if k.lower() != "content-length")
    with socket.create_connection(("127.0.0.1", plat.port), timeout=30) as sock:
        sock.sendall((head + "Content-Length: 104857600\r\nConnection: close\r\n\r\n").encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413") and b"PayloadTooLarge" in answer, answer


def test_hostile_layer_requests_are_refused_in_fcs_shape(plat, admin_key):
    zip_b64 = code_b64({"python/x.py": "X = 1\n"})

    def publish(name: str, **fields) -> requests.Response:
        body = json.dumps({"code": {"zipFile": zip_b64}} | fields).encode()
        return send(signed(plat, admin_key, "POST", path=f"/2023-03-30/layers/{name}/versions", query="", body=body))

    name = "Fc_Hostile_" + uuid.uuid4().hex[:6]
    for bad in ({"bogus": 1}, {"compatibleRuntime": "python3.10"}, {"compatibleRuntime": ["python3.10\n"]},
                {"compatibleRuntime": ["nodejs18"]}, {"code": {"zipFile": "!!"}},
                {"code": {"ossBucketName": "b", "ossObjectName": "o"}}):
        resp = publish(name, **bad)
        assert resp.status_code == 400 and resp.json()["Code"] == "InvalidArgument", (bad, resp.text)
    for bad_name in ("9abc", "a" * 65, "na%0A", "na%2Fme", "-a"):
        resp = publish(bad_name)
        assert resp.status_code == 400 and resp.json()["Code"] == "InvalidArgument", (bad_name, resp.text)
    for path, query in ((f"/2023-03-30/layers/{name}/versions", "startVersion=abc"),
                        (f"/2023-03-30/layers/{name}/versions", "startVersion=%C2%B2"),
                        (f"/2023-03-30/layers/{name}/versions", "limit=0"),
                        ("/2023-03-30/layers", "limit=%0A5"),
                        ("/2023-03-30/layerarn/acs%3Afc%3Acn-hangzhou%3A1%3Alayers%2Fx%0A%2Fversions%2F1", "")):
        resp = send(signed(plat, admin_key, path=path, query=query))
        assert resp.status_code == 400 and resp.json()["Code"] == "InvalidArgument", (path, query, resp.text)
    assert publish(name).status_code == 200  # the same request, well formed, publishes
    assert send(signed(plat, admin_key, "DELETE", path=f"/2023-03-30/layers/{name}/versions/1", query="")
                ).status_code == 204


def test_repeated_signed_headers_and_an_unknown_route_are_refused_in_fcs_shape(plat, admin_key):
    doubled = signed(plat, admin_key)
    raw = f"GET {doubled.path_url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in doubled.headers.items()) \
        + f"x-acs-date: {doubled.headers['x-acs-date']}\r\nConnection: close\r\n\r\n"
    import socket
    with socket.create_connection(("127.0.0.1", plat.port), timeout=30) as sock:
        sock.sendall(raw.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403") and json.loads(body)["Code"] == "InvalidSignature", answer
    unknown = send(signed(plat, admin_key, path="/2023-03-30/" + quote("no-such-thing")))
    assert unknown.status_code == 404 and unknown.json()["Code"] and unknown.json()["RequestId"]
    assert send(signed(plat, admin_key, path="/2023-03-30/no-such-thing"), ).status_code == 404
    wrong_method = send(signed(plat, admin_key, method="PATCH", path="/2023-03-30/functions", query=""))
    assert wrong_method.status_code == 405 and wrong_method.json()["Code"] == "MethodNotAllowed"
    assert "POST" in wrong_method.headers["Allow"] and "GET" in wrong_method.headers["Allow"]
    unsigned = requests.get(f"{plat.url}/2023-03-30/no-such-thing", timeout=30)
    assert unsigned.status_code == 403 and unsigned.json()["Code"] == "InvalidSignature"
