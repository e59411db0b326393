"""HTTP functions as WSGI applications (handlerType wsgi), with real containers: a Flask app unchanged (routes,
a POST body, a redirect, a streamed response), a bare WSGI app's environ, errors, async calls through the trigger,
and hostile requests."""

import json
import time

import pytest
import requests

from helpers import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

FLASK_APP = """
import time
from flask import Flask, Response, redirect, request

app = Flask(__name__)

@app.route("/hello/<name>")
def hello(name):
    return f"hello {name} from {request.environ['fc.context'].function.name}"

@app.route("/echo", methods=["POST"])
def echo():
    return {"got": request.get_data(as_text=True), "type": request.content_type, "args": request.args.to_dict()}

@app.route("/old")
def old():
    return redirect("/hello/moved")

@app.route("/stream")
def stream():
    def pieces():
        for i in range(3):
            yield f"piece {i} at {time.monotonic():.3f}\\n"
            time.sleep(0.5)
    return Response(pieces(), mimetype="text/plain")

handler = app
"""

BARE_APP = """
import json

def handler(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("the app broke")
    if environ["PATH_INFO"] == "/bad-header":
        start_response("200 OK", [("X-A", "1\\r\\nSet-Cookie: evil=1")])
        return [b"x"]
    body = environ["wsgi.input"].read()
    seen = {k: v for k, v in environ.items() if isinstance(v, str)}
    seen["body"] = body.decode("latin-1")
    seen["context"] = environ["fc.context"].request_id
    start_response("201 Created", [("Content-Type", "application/json"), ("X-Many", "1"), ("X-Many", "2")])
    return [json.dumps(seen).encode()]
"""


def url(platform, name, path=""):
    return f"{platform.url}/function/{name}{path}"


def deploy_web(api, name, files, **spec):
    api.deploy(name, files, handlerType="wsgi", **spec)
    resp = api.request("POST", f"/v1/functions/{name}/triggers",
                       json={"triggerName": "web", "triggerType": "http",
                             "triggerConfig": {"authType": "anonymous",
                                               "methods": ["GET", "POST", "PUT", "DELETE", "HEAD"]}})
    assert resp.status_code == 201, resp.text


def test_a_flask_app_runs_unchanged(api, platform, fn_name):
    deploy_web(api, fn_name, {"index.py": FLASK_APP, "requirements.txt": "flask==3.1.*\n"})
    resp = requests.get(url(platform, fn_name, "/hello/world"), timeout=60)
    assert resp.status_code == 200 and resp.text == f"hello world from {fn_name}", resp.text
    assert resp.headers["X-Fc-Request-Id"]
    posted = requests.post(url(platform, fn_name, "/echo?x=1&y=two"), data="a body", timeout=60,
                           headers={"Content-Type": "text/plain"})
    assert posted.json() == {"got": "a body", "type": "text/plain", "args": {"x": "1", "y": "two"}}
    big = "z" * 300_000  # more than one chunk of the streamed request body
    assert requests.post(url(platform, fn_name, "/echo"), data=big, timeout=60).json()["got"] == big
    moved = requests.get(url(platform, fn_name, "/old"), allow_redirects=False, timeout=60)
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/hello/moved")
    assert requests.get(url(platform, fn_name, "/nothing-here"), timeout=60).status_code == 404
    # Streamed: the first piece arrives before the app has made the last (it sleeps 0.5 s between them).
    with requests.get(url(platform, fn_name, "/stream"), stream=True, timeout=60) as streamed:
        lines = streamed.iter_lines()
        first = next(lines)
        arrived = time.monotonic()
        rest = list(lines)
    assert first.startswith(b"piece 0") and [line[:7] for line in rest] == [b"piece 1", b"piece 2"]
    # The host's monotonic clock is the containers' too: the first piece was here before the last was made.
    made_last = float(rest[-1].split()[-1])
    assert arrived < made_last, (arrived, made_last)
    # Each request is an invocation of the function: in its log.
    wait_for(lambda: "REPORT RequestId: " + resp.headers["X-Fc-Request-Id"] in api.request(
        "GET", f"/v1/functions/{fn_name}/logs?tail=200").text, timeout=60, what="the request's REPORT line")


def test_the_environ_and_the_answer_of_a_bare_wsgi_app(api, platform, fn_name):
    deploy_web(api, fn_name, {"index.py": BARE_APP})
    resp = requests.put(url(platform, fn_name, "/a%20path/x?q=1&q=2"), data=b"\xffbinary", timeout=60,
                        headers={"Content-Type": "application/x-thing", "X-Custom": "yes",
                                 "X-Fc-Function-Name": "forged", "X-Fc-Http-Function": "0"})
    assert resp.status_code == 201 and resp.headers["X-Many"] == "1, 2", resp.text
    seen = resp.json()
    assert seen["REQUEST_METHOD"] == "PUT" and seen["PATH_INFO"] == "/a path/x" and seen["QUERY_STRING"] == "q=1&q=2"
    assert seen["CONTENT_TYPE"] == "application/x-thing" and seen["HTTP_X_CUSTOM"] == "yes"
    assert seen["body"] == "\xffbinary" and seen["SCRIPT_NAME"] == "" and seen["wsgi.url_scheme"] == "http"
    assert seen["context"] == resp.headers["X-Fc-Request-Id"]
    assert not any(k.startswith("HTTP_X_FC_") for k in seen), seen  # a client's x-fc-* headers never reach it
    assert requests.head(url(platform, fn_name, "/x"), timeout=60).status_code == 201

    broken = requests.get(url(platform, fn_name, "/boom"), timeout=60)
    assert broken.status_code == 502 and broken.json()["errorMessage"] == "the app broke"
    injected = requests.get(url(platform, fn_name, "/bad-header"), timeout=60)
    assert injected.status_code == 502 and "Set-Cookie" not in injected.headers
    assert requests.get(url(platform, fn_name, "/still-up"), timeout=60).status_code == 201

    # Async through the trigger: the same environ, from the stored request.
    accepted = requests.post(url(platform, fn_name, "/later?k=v"), data="queued body", timeout=60,
                             headers={"X-Fc-Invocation-Type": "Async"})
    assert accepted.status_code == 202
    record = api.request("GET", f"/v1/invocations/{accepted.json()['requestId']}").json()
    assert record["status"] == "queued"  # (the session platform runs no workers: test_async runs events)

    # Not an event function: InvokeFunction gets a clear error.
    called = api.invoke(fn_name, b"{}")
    assert called.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert "HTTP trigger" in called.json()["errorMessage"]


def test_handler_type_is_checked(api, fn_name):
    resp = api.create(fn_name, {"index.py": BARE_APP}, handlerType="asgi")
    assert resp.status_code == 400 and "handlerType" in resp.json()["error"]["message"]
    resp = api.create(fn_name, {}, runtime="custom-container", handlerType="wsgi",
                      customContainer={"image": "python:3.11-slim", "command": ["python"], "port": 9000})
    assert resp.status_code == 400 and "custom container" in resp.json()["error"]["message"]
    assert json.loads(api.request("GET", "/v1/openapi.json").text)["components"]["schemas"]["Function"][
        "properties"]["handlerType"]["enum"] == ["event", "wsgi", "lambda"]
