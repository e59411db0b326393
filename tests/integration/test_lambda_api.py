"""AWS Lambda's API driven by its own SDK (boto3) against a real platform: a function deployed through `/v1` is
seen and invoked through Lambda's GetFunction and Invoke (names, `name:qualifier` and ARNs), and errors arrive
as botocore's ClientError with Lambda's codes."""

import base64
import json
import uuid

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from helpers import code_b64, make_access_key

pytestmark = [pytest.mark.docker, pytest.mark.redis]

HANDLER = """
def handler(event, context):
    print("got", event)
    if event == b'"fail"':
        raise ValueError("asked to fail")
    return {"echo": event.decode(), "function": context.function.name}
"""


def client(plat, key: tuple[str, str], region="us-east-1"):
    return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{plat.port}", region_name=region,
                        aws_access_key_id=key[0], aws_secret_access_key=key[1],
                        config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture(scope="module")
def plat(platform):
    return platform


@pytest.fixture(scope="module")
def admin_key(plat):
    return make_access_key(plat, "admin", "lambda-admin")


@pytest.fixture(scope="module")
def invoke_key(plat):
    return make_access_key(plat, "invoke", "lambda-invoke")


@pytest.fixture(scope="module")
def fn(plat):
    name = "lam-" + uuid.uuid4().hex[:8]
    plat.api.deploy(name, {"index.py": HANDLER})
    yield name
    plat.api.delete(name)


def code_of(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_get_function_shows_a_function_made_through_v1(plat, admin_key, fn):
    got = client(plat, admin_key, region="eu-west-1").get_function(FunctionName=fn)
    config = got["Configuration"]
    assert (config["FunctionName"], config["State"], config["Version"]) == (fn, "Active", "$LATEST")
    assert config["FunctionArn"] == f"arn:aws:lambda:eu-west-1:000000000000:function:{fn}"
    assert config["Timeout"] > 0 and config["MemorySize"] > 0
    same = client(plat, admin_key).get_function_configuration(FunctionName=config["FunctionArn"])
    assert same["FunctionName"] == fn


def test_invoke_with_tail_event_and_dry_run(plat, invoke_key, fn):
    lam = client(plat, invoke_key)
    answer = lam.invoke(FunctionName=fn, Payload=b'"hi"', LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"echo": '"hi"', "function": fn}
    assert answer["ExecutedVersion"] == "$LATEST"
    assert "REPORT RequestId" in base64.b64decode(answer["LogResult"]).decode()
    for name in (f"{fn}:$LATEST", f"arn:aws:lambda:us-east-1:000000000000:function:{fn}",
                 f"000000000000:function:{fn}"):
        assert lam.invoke(FunctionName=name, Payload=b'"x"')["StatusCode"] == 200
    failed = lam.invoke(FunctionName=fn, Payload=b'"fail"')
    assert failed["FunctionError"] == "Unhandled"
    assert lam.invoke(FunctionName=fn, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'"later"')["StatusCode"] == 202


def test_errors_arrive_with_lambdas_codes(plat, admin_key, invoke_key, fn):
    assert code_of(lambda: client(plat, admin_key).get_function(FunctionName="no-such-fn")) == \
        "ResourceNotFoundException"
    assert code_of(lambda: client(plat, invoke_key).get_function(FunctionName=fn)) == "AccessDeniedException"
    assert code_of(lambda: client(plat, (admin_key[0], "wrong")).get_function(FunctionName=fn)) == \
        "InvalidSignatureException"
    assert code_of(lambda: client(plat, ("FKNOSUCHKEY0000000000", "x")).get_function(FunctionName=fn)) == \
        "UnrecognizedClientException"
    assert code_of(lambda: client(plat, admin_key).get_function(
        FunctionName=f"arn:aws:lambda:us-east-1:111111111111:function:{fn}")) == "InvalidParameterValueException"
    assert code_of(lambda: client(plat, invoke_key).invoke(FunctionName=f"{fn}:nope")) == "ResourceNotFoundException"


def test_an_unsigned_or_replayed_body_is_refused_in_lambdas_shape(plat, invoke_key, fn):
    unsigned = requests.post(f"http://127.0.0.1:{plat.port}/2015-03-31/functions/{fn}/invocations", data=b"{}",
                             timeout=30)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert set(unsigned.json()) == {"Type", "Message"}
    # a request botocore signed, sent again with another body: the body is inside the signature
    lam = client(plat, invoke_key)
    sent = {}
    lam.meta.events.register("before-send.lambda.Invoke", lambda request, **_: sent.update(
        url=request.url, headers=dict(request.headers), body=request.body))
    lam.invoke(FunctionName=fn, Payload=b'"signed"')
    again = requests.post(sent["url"], data=b'"forged"', headers=sent["headers"], timeout=30)
    assert again.status_code == 403 and again.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_list_functions_pages_with_markers_and_delete_function(plat, admin_key, invoke_key):
    lam = client(plat, admin_key)
    made = sorted(f"lam-list-{uuid.uuid4().hex[:6]}-{i}" for i in range(3))
    for name in made:
        plat.api.deploy(name, {"index.py": HANDLER})
    try:
        listed = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 2}) for f in page["Functions"]]
        assert listed == sorted(listed) and set(made) <= set(listed)
        first = lam.list_functions(MaxItems=1)
        assert len(first["Functions"]) == 1 and first["NextMarker"] == first["Functions"][0]["FunctionName"]
        assert code_of(lambda: client(plat, invoke_key).delete_function(FunctionName=made[0])) == \
            "AccessDeniedException"
        lam.delete_function(FunctionName=made[0])
        assert code_of(lambda: lam.get_function(FunctionName=made[0])) == "ResourceNotFoundException"
        assert plat.api.request("GET", f"/v1/functions/{made[0]}").status_code == 404  # one core: gone everywhere
    finally:
        for name in made[1:]:
            plat.api.delete(name)


def test_versions_and_an_alias_with_a_weighted_version(plat, admin_key, invoke_key):
    lam, invoker = client(plat, admin_key), client(plat, invoke_key)
    name = "lam-rel-" + uuid.uuid4().hex[:6]
    plat.api.deploy(name, {"index.py": HANDLER})
    try:
        one = lam.publish_version(FunctionName=name, Description="first")
        assert one["Version"] == "1" and one["FunctionArn"].endswith(f":function:{name}:1")
        plat.api.update(name, {"index.py": HANDLER.replace('"echo"', '"echo2"')})
        assert lam.publish_version(FunctionName=name)["Version"] == "2"
        versions = [v["Version"] for page in lam.get_paginator("list_versions_by_function").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 2}) for v in page["Versions"]]
        assert versions == ["$LATEST", "1", "2"]
        made = lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1",
                                RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}})
        assert made["AliasArn"].endswith(f":function:{name}:prod")
        assert made["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.0}
        answer = invoker.invoke(FunctionName=f"{name}:prod", Payload=b'"v"')
        assert answer["ExecutedVersion"] == "1" and "echo" in json.loads(answer["Payload"].read())
        moved = lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2")
        assert moved["FunctionVersion"] == "2" and "RoutingConfig" not in moved
        assert invoker.invoke(FunctionName=name, Qualifier="prod", Payload=b'"v"')["ExecutedVersion"] == "2"
        assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]] == ["prod"]
        assert lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"] == []
        assert lam.get_alias(FunctionName=name, Name="prod")["FunctionVersion"] == "2"
        assert plat.api.request("GET", f"/v1/functions/{name}/aliases/prod").json()["versionId"] == "2"
        assert code_of(lambda: lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")) == \
            "ResourceConflictException"
        assert code_of(lambda: lam.get_alias(FunctionName=name, Name="nope")) == "ResourceNotFoundException"
        lam.delete_alias(FunctionName=name, Name="prod")
        lam.delete_function(FunctionName=name, Qualifier="1")
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]
    finally:
        plat.api.delete(name)


def test_function_concurrency_is_the_functions_max_instances(plat, admin_key, invoke_key, fn):
    lam = client(plat, admin_key)
    assert lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=3)[
        "ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=fn)["ReservedConcurrentExecutions"] == 3
    assert plat.api.request("GET", f"/v1/functions/{fn}").json()["maxInstances"] == 3
    assert code_of(lambda: lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)) == \
        "InvalidParameterValueException"
    assert code_of(lambda: client(plat, invoke_key).put_function_concurrency(
        FunctionName=fn, ReservedConcurrentExecutions=2)) == "AccessDeniedException"
    lam.delete_function_concurrency(FunctionName=fn)
    default = plat.api.request("GET", f"/v1/functions/{fn}").json()["maxInstances"]
    assert lam.get_function_concurrency(FunctionName=fn)["ReservedConcurrentExecutions"] == default != 3


LAYER_BODY = json.dumps({"Content": {"ZipFile": code_b64({"python/x.py": "X = 1\n"})}}).encode()
"""A PublishLayerVersion body that publishes (python/x.py): each bad case below is bad for one reason."""


def signed(plat, key, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> requests.Response:
    """A raw request signed by botocore's own signer: what boto3 would refuse to send, sent."""
    url = f"http://127.0.0.1:{plat.port}{path}"
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(*key), "lambda", "us-east-1").add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers), timeout=60)


@pytest.mark.parametrize("method, path, body, headers, status, code", [
    ("GET", "/2015-03-31/functions/" + "f" * 65, b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions/{fn}%0A", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions/{fn}%3A", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions/{fn}%3A1?Qualifier=2", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions/{fn}%3Anope%0A", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000001%3Afunction%3A{fn}", b"", None, 400,
     "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/invocations", b"{}", {"X-Amz-Invocation-Type": "Eventual"}, 400,
     "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/invocations", b"{}", {"X-Amz-Log-Type": "tail"}, 400,
     "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/invocations", b"x" * (6 * 1024 * 1024 + 1), None, 413,
     "RequestTooLargeException"),
    ("GET", "/2015-03-31/functions?MaxItems=0", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions?MaxItems=10001", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions?MaxItems=%EF%BC%91", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions?FunctionVersion=1", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions?Forged=1", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2015-03-31/functions/{fn}/versions?Marker=99", b"", None, 400, "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/aliases", b"{not json", None, 400, "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/aliases", b'{"Name": "a", "FunctionVersion": "1", "Forged": 1}', None, 400,
     "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/aliases", b'{"Name": "a", "FunctionVersion": "1", "RoutingConfig": []}',
     None, 400, "InvalidParameterValueException"),
    ("POST", "/2015-03-31/functions/{fn}/aliases", b'{"Name": "a\\n", "FunctionVersion": "1"}', None, 400,
     "InvalidParameterValueException"),
    ("PUT", "/2017-10-31/functions/{fn}/concurrency", b'{"ReservedConcurrentExecutions": "3"}', None, 400,
     "InvalidParameterValueException"),
    ("PUT", "/2017-10-31/functions/{fn}/concurrency", b'{"ReservedConcurrentExecutions": true}', None, 400,
     "InvalidParameterValueException"),
    ("PUT", "/2017-10-31/functions/{fn}/concurrency", b'{"ReservedConcurrentExecutions": 101}', None, 400,
     "InvalidParameterValueException"),
    ("PUT", "/2017-10-31/functions/{fn}/concurrency", b'{"ReservedConcurrentExecutions": 2, "Forged": 1}', None, 400,
     "InvalidParameterValueException"),
    ("GET", "/2015-03-31/no-such-resource", b"", None, 404, "ResourceNotFoundException"),
    # layers
    ("POST", "/2018-10-31/layers/" + "L" * 65 + "/versions", LAYER_BODY, None, 400, "InvalidParameterValueException"),
    ("POST", "/2018-10-31/layers/name%0A/versions", LAYER_BODY, None, 400, "InvalidParameterValueException"),
    ("POST", "/2018-10-31/layers/na%2Fme/versions", LAYER_BODY, None, 400, "InvalidParameterValueException"),
    ("POST", "/2018-10-31/layers/name/versions", b'{"Content": {"ZipFile": "!!"}}', None, 400,
     "InvalidParameterValueException"),
    ("POST", "/2018-10-31/layers/name/versions", LAYER_BODY[:-1] + b', "Forged": 1}', None, 400,
     "InvalidParameterValueException"),
    ("POST", "/2018-10-31/layers/name/versions", LAYER_BODY[:-1] + b', "CompatibleRuntimes": "python3.12"}', None,
     400, "InvalidParameterValueException"),
    ("POST", "/2018-10-31/layers/name/versions", LAYER_BODY[:-1] + b', "CompatibleRuntimes": ["python3.12\\n"]}',
     None, 400, "InvalidParameterValueException"),
    ("GET", "/2018-10-31/layers/name/versions?Marker=abc", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2018-10-31/layers/name/versions?Marker=%C2%B2", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2018-10-31/layers/name/versions?MaxItems=0", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2018-10-31/layers?MaxItems=%0A5", b"", None, 400, "InvalidParameterValueException"),
    ("GET", "/2018-10-31/layers?find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Alayer%3Ax%0A%3A1",
     b"", None, 400, "InvalidParameterValueException"),
])
def test_malformed_oversized_and_forged_inputs_get_lambdas_errors(plat, admin_key, fn, method, path, body, headers,
                                                                   status, code):
    resp = signed(plat, admin_key, method, path.replace("{fn}", fn), body, headers)
    assert (resp.status_code, resp.headers.get("x-amzn-ErrorType")) == (status, code), resp.text
    assert set(resp.json()) == {"Type", "Message"}
    assert plat.api.request("GET", f"/v1/functions/{fn}").json()["maxInstances"] != 101  # nothing was changed
