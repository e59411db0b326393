"""Functions made, changed and called through Lambda's API with its own SDK (boto3) and CLI, against a real platform:
Lambda-shaped handlers (JSON in and out, Lambda's context, its error payload and log lines), event invoke configs
with destinations, provisioned concurrency, function URLs, and a re-sent Event invoke that runs once."""

import base64
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from test_lambda_api import client, code_of, signed

from faas.compat.names import native_name
from faas.logs.keys import PLATFORM_REQUEST_PREFIXES
from helpers import build_ric_image, make_access_key, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

HANDLER = """
import os

def lambda_handler(event, context):
    print("event", event)
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event["fail"]))
    if "http" in event.get("requestContext", {}):
        return {"statusCode": 201, "headers": {"x-got": event["rawPath"]}, "cookies": ["seen=1"],
                "body": __import__("json").dumps(event)}
    return {"event": event, "name": context.function_name, "version": context.function_version,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "group": context.log_group_name, "stream": context.log_stream_name,
            "left": 0 < context.get_remaining_time_in_millis() <= 3000, "id": context.aws_request_id,
            "env": os.environ.get("GREETING"), "region": os.environ.get("AWS_REGION")}
"""


def zipped(source: str = HANDLER, name: str = "lambda_function.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def plat(async_stack):
    """A platform with workers (events run) and short retry waits."""
    return async_stack[0]


@pytest.fixture(scope="module")
def admin_key(plat):
    return make_access_key(plat, "admin", "lambda-fn-admin")


@pytest.fixture(scope="module")
def invoke_key(plat):
    return make_access_key(plat, "invoke", "lambda-fn-invoke")


def create(lam, name: str, **extra):
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/any",
                               Handler="lambda_function.lambda_handler", Code={"ZipFile": zipped()}, **extra)


@pytest.fixture(scope="module")
def made(plat, admin_key):
    """A Lambda-shaped function whose Lambda name is not a platform name (capitals and '_')."""
    name = "Lam_Fn_" + uuid.uuid4().hex[:6]
    lam = client(plat, admin_key, region="eu-west-1")
    create(lam, name, Environment={"Variables": {"GREETING": "hello"}}, MemorySize=256)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name
    lam.delete_function(FunctionName=name)


def test_create_then_invoke_with_lambdas_event_context_and_tail(plat, admin_key, invoke_key, made):
    lam = client(plat, admin_key, region="eu-west-1")
    config = lam.get_function_configuration(FunctionName=made)
    assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == \
        ("python3.11", "lambda_function.lambda_handler", 3, 256)  # Lambda's default timeout: 3 s
    assert config["Environment"] == {"Variables": {"GREETING": "hello"}}  # the reserved ones are not shown
    answer = client(plat, invoke_key, region="eu-west-1").invoke(FunctionName=made, Payload=b'{"a": [1, 2]}',
                                                                 LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    got = json.loads(answer["Payload"].read())
    request_id = answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{made}"
    assert {k: got[k] for k in ("event", "name", "version", "arn", "memory", "group", "left", "id", "env",
                                "region")} == {
        "event": {"a": [1, 2]}, "name": made, "version": "$LATEST", "arn": arn, "memory": "256",
        "group": f"/aws/lambda/{made}", "left": True, "id": request_id, "env": "hello", "region": "eu-west-1"}
    assert "/[$LATEST]" in got["stream"]
    log = base64.b64decode(answer["LogResult"]).decode().splitlines()
    assert log[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert any("event {'a': [1, 2]}" in line for line in log)
    assert log[-2] == f"END RequestId: {request_id}" and log[-1].startswith(f"REPORT RequestId: {request_id}\t")
    empty = client(plat, invoke_key, region="eu-west-1").invoke(FunctionName=made)  # no payload: the event is {}
    assert json.loads(empty["Payload"].read())["event"] == {}


def test_an_exception_is_lambdas_error_payload_and_a_bad_payload_is_refused(plat, invoke_key, made):
    lam = client(plat, invoke_key, region="eu-west-1")
    failed = lam.invoke(FunctionName=made, Payload=json.dumps({"fail": "now"}).encode())
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail: now")
    assert any("lambda_function.py" in line for line in error["stackTrace"])
    for payload in (b"not json", b'{"a": 1', b'{"a": 1}\n{"b": 2}', b"\xff"):
        assert code_of(lambda p=payload: lam.invoke(FunctionName=made, Payload=p)) == \
            "InvalidRequestContentException"


def test_update_code_and_configuration_and_publish(plat, admin_key, invoke_key, made):
    lam, invoker = client(plat, admin_key, region="eu-west-1"), client(plat, invoke_key, region="eu-west-1")
    changed = lam.update_function_code(FunctionName=made, ZipFile=zipped(HANDLER.replace('"event": event',
                                                                                         '"event": ["v2", event]')),
                                       Publish=True)
    assert changed["Version"].isdigit() and changed["FunctionArn"].endswith(f":{changed['Version']}")
    assert json.loads(invoker.invoke(FunctionName=made, Payload=b'{"n": 1}')["Payload"].read())["event"] == \
        ["v2", {"n": 1}]
    published = json.loads(invoker.invoke(FunctionName=made, Qualifier=changed["Version"],
                                          Payload=b'{"n": 2}')["Payload"].read())
    assert published["version"] == changed["Version"] and published["arn"].endswith(f"{made}:{changed['Version']}")
    configured = lam.update_function_configuration(FunctionName=made, Timeout=30, Description="d",
                                                   Environment={"Variables": {"GREETING": "bye"}})
    assert (configured["Timeout"], configured["Description"], configured["Environment"]["Variables"]) == \
        (30, "d", {"GREETING": "bye"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=made)
    got = json.loads(invoker.invoke(FunctionName=made, Payload=b"{}")["Payload"].read())
    assert (got["env"], got["name"], got["region"]) == ("bye", made, "eu-west-1")  # the kept ones survive
    assert code_of(lambda: lam.update_function_configuration(
        FunctionName=made, Environment={"Variables": {"AWS_REGION": "us-west-2"}})) == \
        "InvalidParameterValueException"
    assert code_of(lambda: lam.update_function_configuration(FunctionName=made, Runtime="python3.8")) == \
        "InvalidParameterValueException"
    # another Runtime, without new code: the code it has is built again on that interpreter
    assert lam.update_function_configuration(FunctionName=made, Runtime="python3.12")["Runtime"] == "python3.13"
    lam.get_waiter("function_updated_v2").wait(FunctionName=made)
    assert json.loads(invoker.invoke(FunctionName=made, Payload=b"{}")["Payload"].read())["env"] == "bye"
    assert lam.update_function_configuration(FunctionName=made, Runtime="python3.11")["Runtime"] == "python3.11"
    lam.get_waiter("function_updated_v2").wait(FunctionName=made)


def test_a_resent_event_invoke_runs_once(plat, invoke_key, made):
    lam = client(plat, invoke_key, region="eu-west-1")
    sent = {}
    lam.meta.events.register("before-send.lambda.Invoke", lambda request, **_: sent.update(
        url=request.url, headers=dict(request.headers), body=request.body))
    first = lam.invoke(FunctionName=made, InvocationType="Event", Payload=b'{"once": true}')
    rid = first["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert first["StatusCode"] == 202 and rid == sent["headers"]["amz-sdk-invocation-id"].decode()
    # botocore's retry of the same call: the same signed request, the same invocation id
    again = requests.post(sent["url"], data=sent["body"], headers=sent["headers"], timeout=30)
    assert again.status_code == 202 and again.headers["x-amzn-RequestId"] == rid
    ended = wait_for(lambda: (r := plat.api.request("GET", f"/v1/invocations/{rid}").json())["status"] ==
                     "succeeded" and r, timeout=60, what="the event to run")
    assert ended["attempts"] == 1


def test_a_forged_or_malformed_invocation_id_takes_no_other_event(plat, invoke_key, made):
    """An id another function's event has is that event's, not a retry: 409. An id the platform cannot keep (too
    long, not letters, digits and '-', one of the platform's own prefixes) is not used: the event gets its own."""
    other = "lam-other-" + uuid.uuid4().hex[:6]
    plat.api.deploy(other, {"index.py": "def handler(event, context):\n    return event\n"})
    try:
        taken = "taken-" + uuid.uuid4().hex
        first = signed(plat, invoke_key, "POST", f"/2015-03-31/functions/{other}/invocations", b"{}",
                       {"X-Amz-Invocation-Type": "Event", "amz-sdk-invocation-id": taken})
        assert first.status_code == 202 and first.headers["x-amzn-RequestId"] == taken
        forged = signed(plat, invoke_key, "POST", f"/2015-03-31/functions/{made}/invocations", b"{}",
                        {"X-Amz-Invocation-Type": "Event", "amz-sdk-invocation-id": taken})
        assert (forged.status_code, forged.headers["x-amzn-ErrorType"]) == (409, "ResourceConflictException")
        assert plat.api.request("GET", f"/v1/invocations/{taken}").json()["functionName"] == other
    finally:
        plat.api.delete(other)
    for bad in ("x" * 65, "bad id!", "a_b", PLATFORM_REQUEST_PREFIXES[0] + "1"):
        resp = signed(plat, invoke_key, "POST", f"/2015-03-31/functions/{made}/invocations", b"{}",
                      {"X-Amz-Invocation-Type": "Event", "amz-sdk-invocation-id": bad})
        assert resp.status_code == 202 and resp.headers["x-amzn-RequestId"] != bad, bad


def test_event_invoke_config_sends_a_failed_event_to_its_destination(plat, admin_key, invoke_key, made):
    lam = client(plat, admin_key, region="eu-west-1")
    queue = "lam-failed-" + uuid.uuid4().hex[:6]
    config = lam.put_function_event_invoke_config(
        FunctionName=made, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:eu-west-1:000000000000:{queue}"}})
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 600)
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == f"arn:aws:sqs:eu-west-1:000000000000:{queue}"
    assert lam.get_function_event_invoke_config(FunctionName=made)["MaximumRetryAttempts"] == 1
    updated = lam.update_function_event_invoke_config(FunctionName=made, MaximumEventAgeInSeconds=900)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 900)
    listed = lam.list_function_event_invoke_configs(FunctionName=made)["FunctionEventInvokeConfigs"]
    assert listed[0]["FunctionArn"].endswith(f"{made}:$LATEST")
    answer = client(plat, invoke_key, region="eu-west-1").invoke(
        FunctionName=made, InvocationType="Event", Payload=json.dumps({"fail": "async"}).encode())
    rid = answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    def delivered():
        resp = plat.api.request("GET", f"/v1/queues/{queue}/messages", params={"count": 100})
        records = [m["record"] for m in resp.json().get("messages", [])] if resp.status_code == 200 else []
        return [r for r in records if r["requestContext"]["requestId"] == rid]

    record = wait_for(delivered, timeout=90, what="the failed event in its destination queue")[0]
    assert record["requestContext"]["condition"] != "Success"
    assert plat.api.request("GET", f"/v1/invocations/{rid}").json()["attempts"] == 2  # 1 retry, as configured
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 59}, {"MaximumRetryAttempts": True},
                {"MaximumEventAgeInSeconds": "600"}, {"DestinationConfig": []}, {"Forged": 1},
                {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:eu-west-1:000000000000:t"}}},
                {"DestinationConfig": {"OnFailure": {"Destination": f"arn:aws:sqs:eu-west-1:111111111111:{queue}"}}},
                {"DestinationConfig": {"OnFailure": {"Destination": f"arn:aws:sqs:eu-west-1:000000000000:{queue}\n"}}},
                {"DestinationConfig": {"OnSuccess": {"Destination": "x", "Forged": 1}}}):
        resp = signed(plat, admin_key, "PUT", f"/2019-09-25/functions/{made}/event-invoke-config",
                      json.dumps(bad).encode())  # (raw: boto3 checks some of these before sending)
        assert (resp.status_code, resp.headers["x-amzn-ErrorType"]) == (400, "InvalidParameterValueException"), bad
    lam.delete_function_event_invoke_config(FunctionName=made)
    assert lam.get_function_event_invoke_config(FunctionName=made)["DestinationConfig"]["OnFailure"] != \
        config["DestinationConfig"]["OnFailure"]


def test_provisioned_concurrency_starts_reserved_containers(plat, admin_key, made):
    lam = client(plat, admin_key, region="eu-west-1")
    version = lam.publish_version(FunctionName=made)["Version"]
    assert code_of(lambda: lam.put_provisioned_concurrency_config(
        FunctionName=made, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)) == \
        "InvalidParameterValueException"
    put = lam.put_provisioned_concurrency_config(FunctionName=made, Qualifier=version,
                                                 ProvisionedConcurrentExecutions=1)
    assert put["RequestedProvisionedConcurrentExecutions"] == 1 and put["Status"] in ("IN_PROGRESS", "READY")
    wait_for(lambda: lam.get_provisioned_concurrency_config(FunctionName=made, Qualifier=version)["Status"] ==
             "READY", timeout=60, what="the reserved container")
    listed = lam.list_provisioned_concurrency_configs(FunctionName=made)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == [version]
    lam.delete_provisioned_concurrency_config(FunctionName=made, Qualifier=version)
    assert code_of(lambda: lam.get_provisioned_concurrency_config(FunctionName=made, Qualifier=version)) == \
        "ResourceNotFoundException"


def test_function_url_calls_with_lambdas_event_and_response(plat, admin_key, made):
    lam = client(plat, admin_key, region="eu-west-1")
    url = lam.create_function_url_config(FunctionName=made, AuthType="NONE")
    assert url["FunctionUrl"].endswith("/") and url["AuthType"] == "NONE"
    assert code_of(lambda: lam.create_function_url_config(FunctionName=made, AuthType="NONE")) == \
        "ResourceConflictException"
    assert code_of(lambda: lam.update_function_url_config(FunctionName=made, AuthType="AWS_IAM")) == \
        "InvalidParameterValueException"
    assert lam.get_function_url_config(FunctionName=made)["FunctionUrl"] == url["FunctionUrl"]
    resp = requests.post(url["FunctionUrl"] + "some/path?x=1&x=2", data=b"\x00\xffbinary",
                         headers={"Cookie": "a=1; b=2", "X-Fc-Forged": "1"}, timeout=60)
    assert resp.status_code == 201 and resp.headers["x-got"] == "/some/path" and resp.headers["Set-Cookie"] == "seen=1"
    event = resp.json()
    assert (event["version"], event["routeKey"], event["rawQueryString"]) == ("2.0", "$default", "x=1&x=2")
    assert event["queryStringParameters"] == {"x": "1,2"} and event["cookies"] == ["a=1", "b=2"]
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\x00\xffbinary"
    assert event["requestContext"]["http"]["method"] == "POST" and "x-fc-forged" not in event["headers"]
    assert [u["FunctionUrl"] for u in lam.list_function_url_configs(FunctionName=made)["FunctionUrlConfigs"]] == \
        [url["FunctionUrl"]]
    lam.delete_function_url_config(FunctionName=made)
    assert requests.get(url["FunctionUrl"], timeout=30).status_code == 404
    assert code_of(lambda: lam.get_function_url_config(FunctionName=made)) == "ResourceNotFoundException"


def test_create_refuses_what_the_platform_cannot_do(plat, admin_key):
    lam = client(plat, admin_key)
    name = "lam-bad-" + uuid.uuid4().hex[:6]
    cases = [dict(Runtime="python3.8"), dict(Runtime="nodejs20.x"), dict(Environment={"Variables": {"_HANDLER": "x"}}),
             dict(Layers=["arn:aws:lambda:us-east-1:000000000000:layer:l:1"]), dict(MemorySize=200),
             dict(Code={"S3Bucket": "bucket", "S3Key": "key"}), dict(PackageType="Image", Code={"ImageUri": "img:1"}),
             dict(Tags={"team": "x"})]
    for extra in cases:
        args = dict(FunctionName=name, Runtime="python3.11", Role="r", Handler="lambda_function.lambda_handler",
                    Code={"ZipFile": zipped()}) | extra
        assert code_of(lambda a=args: lam.create_function(**a)) == "InvalidParameterValueException", extra
    assert code_of(lambda: lam.get_function(FunctionName=name)) == "ResourceNotFoundException"  # none was made
    # boto3's own exception classes, as callers catch them
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName=name, Runtime="python3.8", Role="r", Handler="a.b",
                            Code={"ZipFile": zipped()})


@pytest.mark.parametrize("body, code", [
    (b'{"FunctionName": "x\\n", "Runtime": "python3.11", "Handler": "a.b", "Code": {"ZipFile": "eA=="}}',
     "InvalidParameterValueException"),
    (b'{"FunctionName": "' + b"f" * 65 + b'", "Runtime": "python3.11", "Handler": "a.b", "Code": {"ZipFile": "eA=="}}',
     "InvalidParameterValueException"),
    (b'{"FunctionName": "lam-forged", "Runtime": "python3.11", "Handler": "a.b", "Code": {"ZipFile": "eA=="}, '
     b'"Forged": 1}', "InvalidParameterValueException"),
    (b'{"FunctionName": "lam-notzip", "Runtime": "python3.11", "Handler": "a.b", "Code": {"ZipFile": "not base64!"}}',
     "InvalidParameterValueException"),
    (b'{"FunctionName": "lam-nocode", "Runtime": "python3.11", "Handler": "a.b"}', "InvalidParameterValueException"),
    (b'{"FunctionName": "lam-pub", "Runtime": "python3.11", "Handler": "a.b", "Code": {"ZipFile": "eA=="}, '
     b'"Publish": "yes"}', "InvalidParameterValueException"),
    (b"[]", "InvalidParameterValueException"),
])
def test_hostile_create_bodies_get_lambdas_errors(plat, admin_key, body, code):
    resp = signed(plat, admin_key, "POST", "/2015-03-31/functions", body)
    assert (resp.status_code, resp.headers.get("x-amzn-ErrorType")) == (400, code), resp.text
    assert plat.api.request("GET", "/v1/functions/lam-forged").status_code == 404


def test_the_aws_cli_manages_and_invokes(plat, admin_key, tmp_path):
    name = "lam-cli-" + uuid.uuid4().hex[:6]
    (tmp_path / "code.zip").write_bytes(zipped())
    env = {**os.environ, "AWS_ACCESS_KEY_ID": admin_key[0], "AWS_SECRET_ACCESS_KEY": admin_key[1],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    aws = [str(Path(sys.executable).with_name("aws")), "--endpoint-url", f"http://127.0.0.1:{plat.port}", "lambda"]

    def run(*args: str) -> str:
        done = subprocess.run(aws + list(args), env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    made = json.loads(run("create-function", "--function-name", name, "--runtime", "python3.11", "--role", "r",
                          "--handler", "lambda_function.lambda_handler", "--zip-file", f"fileb://{tmp_path}/code.zip"))
    try:
        assert made["FunctionName"] == name
        run("wait", "function-active-v2", "--function-name", name)
        answer = json.loads(run("invoke", "--function-name", name, "--payload", '{"cli": 1}',
                                "--log-type", "Tail",
                                str(tmp_path / "out.json")))
        assert answer["StatusCode"] == 200 and "START RequestId" in base64.b64decode(answer["LogResult"]).decode()
        assert json.loads((tmp_path / "out.json").read_text())["event"] == {"cli": 1}
        assert name in [f["FunctionName"] for f in json.loads(run("list-functions"))["Functions"]]
    finally:
        run("delete-function", "--function-name", name)
    missing = subprocess.run(aws + ["get-function", "--function-name", name], env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_one_core_a_lambda_function_is_the_platforms(plat, made):
    """One core: the function made through Lambda's API is a `/v1` function, Lambda-shaped, under its platform name."""
    native = plat.api.request("GET", f"/v1/functions/{native_name(made)}").json()
    assert native["handlerType"] == "lambda" and native["runtime"] == "python3.11"
    assert native["environment"]["AWS_LAMBDA_FUNCTION_NAME"] == made
    assert plat.api.invoke(native_name(made), b'{"from": "v1"}').json()["name"] == made


SLEEPY = """
import time

def handler(event, context):
    time.sleep(event["sleep"])
    return "slept"
"""


def test_a_full_function_is_too_many_requests_with_retry_after(plat, admin_key, invoke_key):
    """One container, busy: the next call waits the platform's queue timeout (1 s here), then is Lambda's 429."""
    name = "lam-full-" + uuid.uuid4().hex[:6]
    plat.api.deploy(name, {"index.py": SLEEPY}, handlerType="lambda", maxInstances=1, timeoutSeconds=30)
    try:
        lam = client(plat, invoke_key)
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(lam.invoke, FunctionName=name, Payload=b'{"sleep": 6}')
            wait_for(lambda: any(i["state"] == "Busy" for i in plat.api.request(
                "GET", f"/v1/functions/{name}/instances").json()["instances"]), what="the one container busy")
            resp = signed(plat, invoke_key, "POST", f"/2015-03-31/functions/{name}/invocations", b'{"sleep": 0}')
            assert (resp.status_code, resp.headers["x-amzn-ErrorType"]) == (429, "TooManyRequestsException")
            assert int(resp.headers["Retry-After"]) >= 1 and set(resp.json()) == {"Type", "Message"}
            assert json.loads(busy.result()["Payload"].read()) == "slept"
    finally:
        plat.api.delete(name)


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/2021-10-31/functions/{fn}/url", b'{"AuthType": "NONE", "Cors": {"AllowOrigins": ["*"]}}'),
    ("POST", "/2021-10-31/functions/{fn}/url", b'{"AuthType": 1}'),
    ("POST", "/2021-10-31/functions/{fn}/url", b'{"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}'),
    ("POST", "/2021-10-31/functions/{fn}/url", b'{"AuthType": "NONE", "Forged": 1}'),
    ("POST", "/2021-10-31/functions/{fn}/url?Qualifier=nope%0A", b'{"AuthType": "NONE"}'),
    ("PUT", "/2015-03-31/functions/{fn}/code", b'{"ZipFile": "eA==", "Forged": 1}'),
    ("PUT", "/2015-03-31/functions/{fn}/code", b'{"ZipFile": "eA==", "DryRun": true}'),
    ("PUT", "/2015-03-31/functions/{fn}/code", b'{"ZipFile": "not base64!"}'),
    ("PUT", "/2015-03-31/functions/{fn}/code", b'{"ZipFile": "eA=="}'),  # base64 of a file that is no zip
    ("PUT", "/2015-03-31/functions/{fn}/code?Qualifier=1", b'{"ZipFile": "eA=="}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"Environment": {"Variables": ["A=1"]}}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"Environment": {"Variables": {"A": 1}}}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"Environment": {"Variables": {"A\\n": "1"}}}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"Environment": {"Vars": {}}}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"Timeout": "30"}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"Handler": "a.b\\n"}'),
    ("PUT", "/2015-03-31/functions/{fn}/configuration", b'{"FunctionName": "renamed"}'),
    ("PUT", "/2019-09-30/functions/{fn}/provisioned-concurrency?Qualifier=1",
     b'{"ProvisionedConcurrentExecutions": "1"}'),
    ("PUT", "/2019-09-30/functions/{fn}/provisioned-concurrency?Qualifier=1",
     b'{"ProvisionedConcurrentExecutions": 0}'),
    ("PUT", "/2019-09-30/functions/{fn}/provisioned-concurrency?Qualifier=1",
     b'{"ProvisionedConcurrentExecutions": true}'),
    ("PUT", "/2019-09-30/functions/{fn}/provisioned-concurrency?Qualifier=1",
     b'{"ProvisionedConcurrentExecutions": 1, "Forged": 1}'),
])
def test_hostile_settings_get_lambdas_errors_and_change_nothing(plat, admin_key, made, method, path, body):
    before = plat.api.request("GET", f"/v1/functions/{native_name(made)}").json()
    resp = signed(plat, admin_key, method, path.replace("{fn}", made), body)
    assert (resp.status_code, resp.headers.get("x-amzn-ErrorType")) == (400, "InvalidParameterValueException"), \
        resp.text
    assert set(resp.json()) == {"Type", "Message"}
    after = plat.api.request("GET", f"/v1/functions/{native_name(made)}").json()
    assert after == before
    triggers = plat.api.request("GET", f"/v1/functions/{native_name(made)}/triggers").json()["triggers"]
    assert not [t for t in triggers if t["triggerName"] == "function-url"]


RIC_APP = """
import os

BOOT = os.urandom(8).hex()  # one per runtime process

def handler(event, context):
    print("ric got", event)
    if event.get("fail"):
        raise RuntimeError("ric failure")
    if event.get("exit"):
        os._exit(3)
    return {"event": event, "name": context.function_name, "arn": context.invoked_function_arn,
            "left": 0 < context.get_remaining_time_in_millis() <= 30000, "id": context.aws_request_id,
            "boot": BOOT}
"""


@pytest.fixture(scope="module")
def ric_image(docker_client):
    return build_ric_image(docker_client, "faas-test-ric:1", RIC_APP)


def test_a_lambda_container_image_with_awslambdaric_runs_unchanged(plat, admin_key, invoke_key, ric_image):
    lam, invoker = client(plat, admin_key), client(plat, invoke_key)
    name = "Lam_Image_" + uuid.uuid4().hex[:6]
    made = lam.create_function(FunctionName=name, Role="r", PackageType="Image", Code={"ImageUri": ric_image},
                               Timeout=30)
    try:
        assert made["PackageType"] == "Image" and "Runtime" not in made
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        assert lam.get_function(FunctionName=name)["Code"]["ImageUri"] == ric_image
        first = invoker.invoke(FunctionName=name, Payload=b'{"n": 1}', LogType="Tail")
        got = json.loads(first["Payload"].read())
        request_id = first["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        assert (got["event"], got["name"], got["id"], got["left"]) == ({"n": 1}, name, request_id, True)
        assert got["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        log = base64.b64decode(first["LogResult"]).decode()
        assert "ric got {'n': 1}" in log and log.startswith(f"START RequestId: {request_id}")
        second = json.loads(invoker.invoke(FunctionName=name, Payload=b'{"n": 2}')["Payload"].read())
        assert second["boot"] == got["boot"]  # the same warm runtime process
        failed = invoker.invoke(FunctionName=name, Payload=b'{"fail": true}')
        error = json.loads(failed["Payload"].read())
        assert failed["FunctionError"] == "Unhandled"
        assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "ric failure")
        exited = invoker.invoke(FunctionName=name, Payload=b'{"exit": true}')
        assert exited["FunctionError"] == "Unhandled"
        assert "exit" in json.loads(exited["Payload"].read())["errorType"].lower()
        again = json.loads(invoker.invoke(FunctionName=name, Payload=b'{"n": 3}')["Payload"].read())
        assert again["event"] == {"n": 3} and again["boot"] != got["boot"]  # a new container took over
        native = plat.api.request("GET", f"/v1/functions/{native_name(name)}").json()
        assert native["customContainer"]["protocol"] == "lambda" and native["runtime"] == "custom-container"
    finally:
        lam.delete_function(FunctionName=name)


def test_a_lambda_image_that_fails_or_is_missing_is_an_error_not_an_outage(plat, admin_key, invoke_key, ric_image):
    lam, invoker = client(plat, admin_key), client(plat, invoke_key)
    name = "lam-img-bad-" + uuid.uuid4().hex[:6]
    # a runtime that ends before it asks for a call: the call is Lambda's error, and the next one too
    lam.create_function(FunctionName=name, Role="r", PackageType="Image", Code={"ImageUri": ric_image},
                        ImageConfig={"EntryPoint": ["python3", "-c", "raise SystemExit(4)"]}, Timeout=10)
    try:
        for _ in range(2):
            failed = invoker.invoke(FunctionName=name, Payload=b"{}")
            assert failed["FunctionError"] == "Unhandled"
            assert json.loads(failed["Payload"].read())["errorType"] == "Runtime.ExitError"
        # the same function given its image's own command back works
        lam.update_function_configuration(FunctionName=name, ImageConfig={"EntryPoint": ["python3", "-m",
                                                                                         "awslambdaric"],
                                                                          "Command": ["app.handler"]})
        assert json.loads(invoker.invoke(FunctionName=name, Payload=b'{"n": 5}')["Payload"].read())["event"] == \
            {"n": 5}
    finally:
        lam.delete_function(FunctionName=name)
    assert code_of(lambda: lam.create_function(FunctionName=name, Role="r", PackageType="Image",
                                               Code={"ImageUri": "faas-test-no-such-image:1"})) == \
        "InvalidParameterValueException"
    for bad in ({"Code": {"ImageUri": ric_image}, "Runtime": "python3.11"},
                {"Code": {"ImageUri": ric_image}, "ImageConfig": {"WorkingDirectory": "/x"}},
                {"Code": {"ZipFile": zipped()}}):
        assert code_of(lambda b=bad: lam.create_function(FunctionName=name, Role="r", PackageType="Image",
                                                         **b)) == "InvalidParameterValueException", bad
    bad_config = signed(plat, admin_key, "POST", "/2015-03-31/functions", json.dumps(  # (boto3 checks its type)
        {"FunctionName": name, "PackageType": "Image", "Code": {"ImageUri": ric_image},
         "ImageConfig": {"EntryPoint": "python3"}}).encode())
    assert bad_config.status_code == 400 and bad_config.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert plat.api.request("GET", "/healthz").status_code == 200
