"""FC 2.0's API driven by its own SDK (aliyun-fc2) against a real platform: services as namespaces of functions,
FC 2.0's error shape read through the SDK's FcError, and signed requests sent raw with every part of them
changed."""

import base64
import email.utils
import json
import time

import fc2
import pytest
import requests
from fc2.auth import Auth
from fc2.fc_exceptions import FcError

from faas.compat.names import native_name
from helpers import code_b64, make_access_key

pytestmark = [pytest.mark.docker, pytest.mark.redis]

HANDLER = """
def handler(event, context):
    print("fc2 got", event)
    if event == b"fail":
        raise ValueError("asked to fail")
    return b"fc2:" + event + b":" + context.function.name.encode()
"""


def client(plat, key: tuple[str, str]) -> fc2.Client:
    return fc2.Client(endpoint=f"http://127.0.0.1:{plat.port}", accessKeyID=key[0], accessKeySecret=key[1])


@pytest.fixture(scope="module")
def plat(platform):
    """The session's platform (without async workers: an async invocation is checked to be stored)."""
    return platform


@pytest.fixture(scope="module")
def admin_key(plat):
    return make_access_key(plat, "admin", "fc2-admin")


@pytest.fixture(scope="module")
def invoke_key(plat):
    return make_access_key(plat, "invoke", "fc2-invoke")


@pytest.fixture
def code_zip(tmp_path):
    path = tmp_path / "code.zip"
    path.write_bytes(base64.b64decode(code_b64({"index.py": HANDLER})))
    return str(path)


def fc_error(call) -> FcError:
    with pytest.raises(FcError) as caught:
        call()
    error = caught.value
    error.body = json.loads(error.message)
    return error


def test_a_service_and_its_functions_through_the_sdk(plat, admin_key, invoke_key, fn_name, code_zip):
    sdk, invoker = client(plat, admin_key), client(plat, invoke_key)
    service = f"Svc_{fn_name}"
    made = sdk.create_service(service, description="first").data
    assert made["serviceName"] == service and made["description"] == "first" and made["serviceId"]
    assert sdk.get_service(service).data["serviceId"] == made["serviceId"]
    assert sdk.update_service(service, description="second").data["description"] == "second"
    again = fc_error(lambda: sdk.create_service(service))
    assert again.status_code == 409 and again.err_code == "ServiceAlreadyExists" and again.request_id != "unknown"

    created = sdk.create_function(service, "Hello_World", "python3.10", "index.handler", codeZipFile=code_zip,
                                  environmentVariables={"GREETING": "hi"}, memorySize=128).data
    assert created["functionName"] == "Hello_World" and created["runtime"] == "python3.11"
    assert created["environmentVariables"] == {"GREETING": "hi"} and created["instanceType"] == "e1"
    sdk.create_function(service, "second", "python3.10", "index.handler", codeZipFile=code_zip)
    got = sdk.get_function(service, "Hello_World").data
    assert got["functionId"] == created["functionId"] and got["memorySize"] == 128
    updated = sdk.update_function(service, "Hello_World", handler="index.handler", timeout=30).data
    assert updated["timeout"] == 30 and updated["memorySize"] == 128

    answer = invoker.invoke_function(service, "Hello_World", payload=b"x", headers={"x-fc-log-type": "Tail"})
    native = native_name(f"{service}/Hello_World")
    assert answer.data == f"fc2:x:{native}".encode()  # the function runs as the platform function it is
    assert "fc2 got b'x'" in base64.b64decode(answer.headers["x-fc-log-result"]).decode()
    failed = fc_error(lambda: invoker.invoke_function(service, "Hello_World", payload=b"fail"))
    assert failed.status_code == 200 and failed.body["errorMessage"] == "asked to fail"
    queued = invoker.invoke_function(service, "Hello_World", payload=b"later",
                                     headers={"x-fc-invocation-type": "Async"})
    record = plat.api.request("GET", f"/v1/invocations/{queued.headers['x-fc-request-id']}").json()
    assert record["functionName"] == native and record["status"] == "queued"
    # The same function through /v1, by its platform name.
    assert plat.api.request("GET", f"/v1/functions/{native}").json()["environment"] == {"GREETING": "hi"}

    first = sdk.list_functions(service, limit=1).data
    assert [f["functionName"] for f in first["functions"]] == ["Hello_World"] and first["nextToken"]
    rest = sdk.list_functions(service, limit=1, nextToken=first["nextToken"]).data
    assert [f["functionName"] for f in rest["functions"]] == ["second"] and "nextToken" not in rest
    listed = sdk.list_services(prefix=service).data
    assert [s["serviceName"] for s in listed["services"]] == [service]

    busy = fc_error(lambda: sdk.delete_service(service))
    assert busy.status_code == 409 and busy.err_code == "ServiceNotEmpty"
    sdk.delete_function(service, "Hello_World")
    plat.api.request("DELETE", f"/v1/functions/{native_name(f'{service}/second')}")  # gone through /v1 instead
    sdk.delete_service(service)
    gone = fc_error(lambda: sdk.get_service(service))
    assert gone.status_code == 404 and gone.err_code == "ServiceNotFound"


def test_errors_through_the_sdk(plat, admin_key, invoke_key, fn_name, code_zip):
    sdk, invoker = client(plat, admin_key), client(plat, invoke_key)
    service = f"errors-{fn_name}"
    sdk.create_service(service)
    missing = fc_error(lambda: sdk.get_function(service, "nothing"))
    assert missing.status_code == 404 and missing.err_code == "FunctionNotFound"
    missing = fc_error(lambda: invoker.invoke_function(service, "nothing", payload=b""))
    assert missing.err_code == "FunctionNotFound"
    assert fc_error(lambda: sdk.get_service("no-such-service")).err_code == "ServiceNotFound"
    denied = fc_error(lambda: invoker.create_service(f"other-{fn_name}"))
    assert denied.status_code == 403 and denied.err_code == "AccessDenied"
    wrong = fc_error(lambda: client(plat, (admin_key[0], "x" * 43)).list_services())
    assert wrong.status_code == 403 and wrong.err_code == "SignatureNotMatch"
    unknown = fc_error(lambda: client(plat, ("FKnosuchkey0000000000", "x" * 43)).list_services())
    assert unknown.err_code == "InvalidAccessKeyId.NotFound"
    no_alias = fc_error(lambda: invoker.invoke_function(service, "nothing", payload=b"", qualifier="prod"))
    assert no_alias.status_code == 404 and no_alias.err_code == "AliasNotFound"
    no_version = fc_error(lambda: invoker.invoke_function(service, "nothing", payload=b"", qualifier="7"))
    assert no_version.status_code == 404 and no_version.err_code == "VersionNotFound"
    bad = fc_error(lambda: invoker.invoke_function(service, "nothing", payload=b"", qualifier="no\nway"))
    assert bad.status_code == 400 and bad.err_code == "InvalidArgument"
    qualified = fc_error(lambda: sdk.get_function(service, "nothing", qualifier="prod"))
    assert qualified.status_code == 404 and qualified.err_code == "FunctionNotFound"
    refused = fc_error(lambda: sdk.create_service(f"vpc-{fn_name}", vpcConfig={"vpcId": "vpc-1"}))
    assert refused.status_code == 400 and "vpcConfig" in refused.body["ErrorMessage"]
    bad_type = fc_error(lambda: sdk.create_function(service, "f", "python3.10", "index.handler",
                                                    codeZipFile=code_zip, instanceType="g1"))
    assert bad_type.status_code == 400 and "instanceType" in bad_type.body["ErrorMessage"]
    sdk.delete_service(service)


TAGGED = """
import os

def handler(event, context):
    return os.environ["TAG"].encode()
"""


def test_service_versions_and_aliases_on_the_functions_own(plat, admin_key, invoke_key, fn_name, tmp_path):
    """A service version holds a version of each function (a function unchanged keeps its version); a service
    alias is a function alias of each, weights included; a qualifier's provision and async-invoke configs are
    the function alias's."""
    sdk, invoker = client(plat, admin_key), client(plat, invoke_key)
    service = f"rel-{fn_name}"
    zipped = tmp_path / "tagged.zip"
    zipped.write_bytes(base64.b64decode(code_b64({"index.py": TAGGED})))
    sdk.create_service(service)
    for fn in ("a", "b"):
        sdk.create_function(service, fn, "python3.10", "index.handler", codeZipFile=str(zipped),
                            environmentVariables={"TAG": "one"})
    native_a, native_b = native_name(f"{service}/a"), native_name(f"{service}/b")
    first = sdk.publish_version(service, description="first").data
    assert first["versionId"] == "1" and first["description"] == "first" and first["createdTime"]
    nothing = fc_error(lambda: sdk.publish_version(service))
    assert nothing.status_code == 409 and nothing.err_code == "NothingToPublish"
    sdk.update_function(service, "a", environmentVariables={"TAG": "two"})
    assert sdk.publish_version(service).data["versionId"] == "2"
    versions_of = lambda native: [v["versionId"] for v in  # noqa: E731
                                  plat.api.request("GET", f"/v1/functions/{native}/versions").json()["versions"]]
    assert versions_of(native_a) == ["2", "1"] and versions_of(native_b) == ["1"]  # b kept its version
    page = sdk.list_versions(service, limit=1).data
    assert [v["versionId"] for v in page["versions"]] == ["2"] and page["nextToken"] == "1"
    assert page["direction"] == "BACKWARD"
    assert [v["versionId"] for v in sdk.list_versions(service, nextToken="1").data["versions"]] == ["1"]
    assert [v["versionId"] for v in sdk.list_versions(service, direction="FORWARD").data["versions"]] == ["1", "2"]

    assert invoker.invoke_function(service, "a", qualifier="1").data == b"one"
    shown = {q: sdk.get_function(service, "a", qualifier=q).data["environmentVariables"]["TAG"]
             for q in ("LATEST", "1", "2")}
    assert shown == {"LATEST": "two", "1": "one", "2": "two"}
    code = sdk.get_function_code(service, "a", qualifier="1").data
    assert requests.get(code["url"], timeout=60).status_code == 200 and code["checksum"]
    assert invoker.invoke_function(service, "a", qualifier="2").data == b"two"
    assert invoker.invoke_function(service, "a").data == b"two"
    alias = sdk.create_alias(service, "prod", "1", description="live", additionalVersionWeight={"2": 0.0}).data
    assert alias["aliasName"] == "prod" and alias["versionId"] == "1" and alias["additionalVersionWeight"] == {"2": 0}
    assert {invoker.invoke_function(service, "a", qualifier="prod").data for _ in range(5)} == {b"one"}
    mirrored = plat.api.request("GET", f"/v1/functions/{native_b}/aliases/prod").json()
    assert mirrored["versionId"] == "1" and mirrored["additionalVersionWeight"] == {}  # b is the same in both
    sdk.update_alias(service, "prod", "1", additionalVersionWeight={"2": 1.0})
    assert {invoker.invoke_function(service, "a", qualifier="prod").data for _ in range(5)} == {b"two"}
    assert sdk.get_alias(service, "prod").data["additionalVersionWeight"] == {"2": 1.0}
    assert sdk.get_function(service, "a", qualifier="prod").data["environmentVariables"]["TAG"] == "one"
    sdk.create_alias(service, "canary", "2")
    aliases = sdk.list_aliases(service, limit=1).data
    assert [a["aliasName"] for a in aliases["aliases"]] == ["canary"] and aliases["nextToken"]
    assert fc_error(lambda: sdk.create_alias(service, "prod", "1")).err_code == "AliasAlreadyExists"
    assert fc_error(lambda: sdk.create_alias(service, "late", "9")).err_code == "VersionNotFound"
    in_use = fc_error(lambda: sdk.delete_version(service, "1"))
    assert in_use.status_code == 409 and in_use.err_code == "ResourceInUse"

    provision = sdk.put_provision_config(service, "prod", "a", 1).data
    assert provision["resource"] == f"platform#{service}#prod#a" and provision["target"] == 1
    assert sdk.get_provision_config(service, "prod", "a").data["target"] == 1
    listed = sdk.list_provision_configs(service, None).data["provisionConfigs"]
    assert [c["resource"] for c in listed] == [f"platform#{service}#prod#a"]
    on_version = fc_error(lambda: sdk.put_provision_config(service, "1", "a", 1))
    assert on_version.status_code == 400 and "alias" in on_version.body["ErrorMessage"]
    sdk.put_provision_config(service, "prod", "a", 0)
    assert sdk.list_provision_configs(service, "prod").data["provisionConfigs"] == []

    destination = f"acs:fc:cn-hangzhou:123:services/{service}/functions/b"
    config = sdk.put_function_async_invoke_config(service, "prod", "a", {
        "maxAsyncRetryAttempts": 1, "destinationConfig": {"onFailure": {"destination": destination}}}).data
    assert config["qualifier"] == "prod" and config["maxAsyncRetryAttempts"] == 1
    assert config["destinationConfig"]["onFailure"]["destination"] == \
        f"acs:fc:local:platform:services/{service}/functions/b"
    native_config = plat.api.request("GET", f"/v1/functions/{native_a}/async-invoke-config?qualifier=prod").json()
    assert native_config["config"]["onFailure"] == f"function:{native_b}"
    assert [c["qualifier"] for c in sdk.list_function_async_invoke_configs(service, "a").data["configs"]] == ["prod"]
    bad = fc_error(lambda: sdk.put_function_async_invoke_config(service, "prod", "a", {
        "destinationConfig": {"onFailure": {"destination": "acs:fc:x:1:services/../functions/b"}}}))
    assert bad.status_code == 400 and "destination" in bad.body["ErrorMessage"]
    sdk.delete_function_async_invoke_config(service, "prod", "a")
    assert sdk.list_function_async_invoke_configs(service, "a").data["configs"] == []

    sdk.delete_alias(service, "prod")
    sdk.delete_alias(service, "canary")
    gone = plat.api.request("GET", f"/v1/functions/{native_a}/aliases/prod")
    assert gone.status_code == 404
    sdk.delete_version(service, "1")
    assert versions_of(native_a) == ["2"] and versions_of(native_b) == ["1"]  # b's is version 2's too
    assert fc_error(lambda: invoker.invoke_function(service, "a", qualifier="1")).err_code == "VersionNotFound"
    for fn in ("a", "b"):
        sdk.delete_function(service, fn)
    sdk.delete_service(service)


def test_names_that_look_alike_are_functions_of_their_own(plat, admin_key, fn_name, code_zip):
    """`a/b_c` and `a_b/c` make the same readable part of a platform name: the hash of each keeps them apart; a
    platform name taken through /v1 first is refused, never shared."""
    sdk = client(plat, admin_key)
    one, two = f"{fn_name}", f"{fn_name}_x"
    sdk.create_service(one)
    sdk.create_service(two)
    sdk.create_function(one, "x_y", "python3.10", "index.handler", codeZipFile=code_zip)
    sdk.create_function(two, "y", "python3.10", "index.handler", codeZipFile=code_zip)
    assert native_name(f"{one}/x_y") != native_name(f"{two}/y")
    assert sdk.get_function(one, "x_y").data["functionId"] != sdk.get_function(two, "y").data["functionId"]
    squatter = native_name(f"{one}/taken")
    plat.api.deploy(squatter, {"index.py": HANDLER})
    taken = fc_error(lambda: sdk.create_function(one, "taken", "python3.10", "index.handler", codeZipFile=code_zip))
    assert taken.status_code == 409 and taken.err_code == "FunctionAlreadyExists"
    plat.api.request("DELETE", f"/v1/functions/{squatter}")
    for service, function in ((one, "x_y"), (two, "y")):
        sdk.delete_function(service, function)
        sdk.delete_service(service)


def raw(plat, key, method="GET", path="/2016-08-15/services", headers=None, body=b"", sign_path=None):
    """A request signed as the SDK signs it, then sent as given (so that a test can change it after signing)."""
    head = {"date": email.utils.formatdate(usegmt=True), "content-type": "application/json"} | (headers or {})
    head["authorization"] = Auth(*key).sign_request(method, sign_path or path, head)
    return head, lambda h=None, p=None: requests.request(method, f"http://127.0.0.1:{plat.port}{p or path}",
                                                         headers=h or head, data=body, timeout=30)


def assert_denied(resp, code):
    assert resp.status_code == 403, resp.text
    assert resp.json()["ErrorCode"] == code and resp.headers["x-fc-request-id"], resp.text


def test_a_request_signed_right_passes_and_every_change_to_it_is_refused(plat, admin_key):
    head, send = raw(plat, admin_key, headers={"x-fc-trace-id": "t1"})
    assert send().status_code == 200
    assert send().status_code == 200  # FC 2.0 has no nonce: a replay within the Date's window passes, as on FC
    assert_denied(send(head | {"x-fc-trace-id": "t2"}), "SignatureNotMatch")  # a signed header changed
    assert_denied(send(head | {"x-fc-extra": "1"}), "SignatureNotMatch")  # an x-fc-* header added
    assert_denied(send(head | {"content-type": "text/plain"}), "SignatureNotMatch")
    assert_denied(send(p="/2016-08-15/services/other"), "SignatureNotMatch")  # another path
    stale = email.utils.formatdate(time.time() - 3600, usegmt=True)
    head, send = raw(plat, admin_key, headers={"date": stale})
    assert_denied(send(), "InvalidSignature")  # signed right, an hour old
    head, send = raw(plat, admin_key)
    assert_denied(send({k: v for k, v in head.items() if k != "authorization"}), "InvalidSignature")
    # (a trailing newline in the header cannot be sent by requests: tests/unit/test_signing.py has it)
    assert_denied(send(head | {"authorization": "FC " + "k" * 200 + ":" + "x" * 43 + "="}), "InvalidSignature")
    head, send = raw(plat, admin_key, method="POST", body=b'{"serviceName": "s"}',
                     headers={"content-md5": base64.b64encode(b"0" * 16).decode()})
    assert_denied(send(), "InvalidSignature")  # a Content-MD5 that is not the body's


def test_hostile_bodies_and_names(plat, admin_key, fn_name):
    for body, why in ((b"not json", "not valid JSON"), (b"[1]", "JSON object"),
                      (b'{"serviceName": "s", "extra": 1}', "unknown field"),
                      (json.dumps({"serviceName": "1starts-with-a-digit"}).encode(), "serviceName"),
                      (json.dumps({"serviceName": "x" * 129}).encode(), "serviceName"),
                      (json.dumps({"serviceName": "a\nb"}).encode(), "serviceName")):
        _, send = raw(plat, admin_key, method="POST", body=body)
        resp = send()
        assert resp.status_code == 400 and why in resp.json()["ErrorMessage"], (body, resp.text)
    for name in ("a%0Ab", "a%2Fb", "a.b.c", "x" * 129):
        path = f"/2016-08-15/services/{name}"
        _, send = raw(plat, admin_key, path=path, sign_path=requests.utils.unquote(path))
        resp = send()
        assert resp.status_code in (400, 404) and "ErrorCode" in resp.json(), (name, resp.text)
    service = f"hostile-{fn_name}"
    _, send = raw(plat, admin_key, method="POST", body=json.dumps({"serviceName": service}).encode())
    assert send().status_code == 200
    aliases = f"/2016-08-15/services/{service}/aliases"
    for body, why in ((b"[]", "JSON object"), (json.dumps({"aliasName": "prod\n", "versionId": "1"}), "alias"),
                      (json.dumps({"aliasName": "prod", "versionId": "1\n"}), "version"),
                      (json.dumps({"aliasName": "prod", "versionId": "1",
                                   "additionalVersionWeight": {"2": 0.5, "3": 0.5}}), "one entry"),
                      (json.dumps({"aliasName": "prod", "versionId": "1", "additionalVersionWeight": {"2": 2}}),
                       "from 0 to 1"),
                      (json.dumps({"aliasName": "prod", "versionId": "1", "description": "d" * 300}), "description"),
                      (json.dumps({"aliasName": "LATEST", "versionId": "1"}), "alias")):
        _, send = raw(plat, admin_key, method="POST", path=aliases,
                      body=body if isinstance(body, bytes) else body.encode())
        resp = send()
        assert resp.status_code == 400 and why in resp.json()["ErrorMessage"], (body, resp.text)
    for path in (f"/2016-08-15/services/{service}.1.2/functions/f/invocations",
                 f"/2016-08-15/services/{service}.prod/versions", f"/2016-08-15/services/{service}/versions/x1",
                 f"/2016-08-15/services/{service}/versions/{'9' * 40}",
                 f"/2016-08-15/services/{service}.1/functions/f/provision-config"):
        method = "POST" if path.endswith(("invocations", "versions")) else "DELETE" if "/versions/" in path \
            else "GET"
        _, send = raw(plat, admin_key, method=method, path=path)
        resp = send()
        assert resp.status_code in (400, 404) and "ErrorCode" in resp.json(), (path, resp.text)
    _, send = raw(plat, admin_key, method="POST", path=f"/2016-08-15/services/{service}/versions",
                  body=b'{"description": "x", "other": 1}')
    assert send().status_code == 400
    assert plat.api.request("GET", "/healthz").status_code == 200


WSGI_APP = """
def handler(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Path", environ["PATH_INFO"])])
    return [b"wsgi:", environ["REQUEST_METHOD"].encode(), b":", body]
"""


def test_an_http_trigger_made_through_fc2_makes_an_http_function(plat, admin_key, fn_name, tmp_path):
    sdk = client(plat, admin_key)
    service = f"web-{fn_name}"
    sdk.create_service(service)
    code = tmp_path / "web.zip"
    code.write_bytes(base64.b64decode(code_b64({"index.py": WSGI_APP})))
    sdk.create_function(service, "site", "python3.10", "index.handler", codeZipFile=str(code))
    made = sdk.create_trigger(service, "site", "web", "http", {"authType": "anonymous", "methods": ["GET", "POST"]},
                              None, None).data
    assert made["triggerType"] == "http" and made["triggerConfig"]["authType"] == "anonymous"
    native = native_name(f"{service}/site")
    assert made["urlInternet"].endswith(f"/function/{native}")
    assert plat.api.request("GET", f"/v1/functions/{native}").json()["handlerType"] == "wsgi"
    resp = requests.post(made["urlInternet"] + "/some/path", data=b"payload", timeout=60)
    assert resp.status_code == 200 and resp.text == "wsgi:POST:payload" and resp.headers["X-Path"] == "/some/path"
    assert [t["triggerName"] for t in sdk.list_triggers(service, "site").data["triggers"]] == ["web"]
    changed = sdk.update_trigger(service, "site", "web", triggerConfig={"authType": "anonymous",
                                                                         "methods": ["GET"]}).data
    assert changed["triggerConfig"]["methods"] == ["GET"]
    assert requests.post(made["urlInternet"], data=b"x", timeout=60).status_code == 405
    assert sdk.get_trigger(service, "site", "web").data["triggerName"] == "web"
    sdk.delete_trigger(service, "site", "web")
    assert fc_error(lambda: sdk.get_trigger(service, "site", "web")).err_code == "TriggerNotFound"
    sdk.delete_function(service, "site")
    sdk.delete_service(service)


def test_the_proxy_path_of_http_triggers(plat, admin_key, invoke_key, fn_name, tmp_path):
    sdk, invoker = client(plat, admin_key), client(plat, invoke_key)
    service = f"proxy-{fn_name}"
    sdk.create_service(service)
    code = tmp_path / "web.zip"
    code.write_bytes(base64.b64decode(code_b64({"index.py": WSGI_APP})))
    for function, auth in (("open", "anonymous"), ("closed", "function")):
        sdk.create_function(service, function, "python3.10", "index.handler", codeZipFile=str(code))
        sdk.create_trigger(service, function, "web", "http", {"authType": auth, "methods": ["GET", "POST"]},
                           None, None)
    base = f"http://127.0.0.1:{plat.port}/2016-08-15/proxy/{service}"
    # Anonymous: anyone, signed or not; the path after the function's and the query reach the app.
    resp = requests.post(f"{base}/open/some/path?a=1", data=b"payload", timeout=60)
    assert resp.status_code == 200 and resp.text == "wsgi:POST:payload" and resp.headers["X-Path"] == "/some/path"
    assert requests.get(f"{base}/open", timeout=60).headers["X-Path"] == "/"
    signed = invoker.do_http_request("POST", service, "open", "/via/sdk", params={"q": "1"}, body=b"sdk")
    assert signed.status_code == 200 and signed.text == "wsgi:POST:sdk"
    # authType function: FC 2.0's signature, its query signed too.
    assert_denied(requests.post(f"{base}/closed/x", data=b"no", timeout=60), "InvalidSignature")
    signed = invoker.do_http_request("POST", service, "closed", "/x", params={"b": "2", "a": "1"}, body=b"yes")
    assert signed.status_code == 200 and signed.text == "wsgi:POST:yes", signed.text
    head = {"date": email.utils.formatdate(usegmt=True)}
    head["authorization"] = Auth(*invoke_key).sign_request("GET", f"/2016-08-15/proxy/{service}/closed/x", head,
                                                             {"a": "1"})
    good = requests.get(f"{base}/closed/x?a=1", headers=head, timeout=60)
    assert good.status_code == 200, good.text
    assert_denied(requests.get(f"{base}/closed/x?a=2", headers=head, timeout=60), "SignatureNotMatch")
    assert_denied(requests.get(f"{base}/closed/y?a=1", headers=head, timeout=60), "SignatureNotMatch")
    md5 = head | {"content-md5": base64.b64encode(b"0" * 16).decode()}
    assert requests.get(f"{base}/closed/x?a=1", headers=md5, timeout=60).status_code == 403
    missing = requests.get(f"{base}/nothing/x", timeout=60)
    assert missing.status_code == 404 and missing.json()["ErrorCode"] == "FunctionNotFound"
    # A qualifier in the path must be the trigger's; a trigger of a service version is refused (name an alias).
    assert requests.get(f"{base}.LATEST/open/q", timeout=60).headers["X-Path"] == "/q"
    assert requests.get(f"{base}.prod/open/q", timeout=60).json()["ErrorCode"] == "AliasNotFound"
    sdk.publish_version(service)
    sdk.create_alias(service, "prod", "1")
    other = requests.get(f"{base}.prod/open/q", timeout=60)
    assert other.status_code == 404 and other.json()["ErrorCode"] == "TriggerNotFound", other.text
    by_version = fc_error(lambda: sdk.create_trigger(service, "open", "v1", "timer", {"cronExpression": "@every 1m"},
                                                     None, None, qualifier="1"))
    assert by_version.status_code == 400 and "alias" in by_version.body["ErrorMessage"]
    on_alias = sdk.create_trigger(service, "closed", "tick", "timer", {"cronExpression": "@every 1h"}, None, None,
                                  qualifier="prod").data
    assert on_alias["qualifier"] == "prod"
    sdk.delete_trigger(service, "closed", "tick")
    sdk.delete_alias(service, "prod")
    sdk.delete_version(service, "1")
    for function in ("open", "closed"):
        sdk.delete_function(service, function)
    sdk.delete_service(service)
