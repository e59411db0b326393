"""More than one runtime: Python 3.11 and 3.13 (each its own image and cells), and FC's custom runtime (the code
package's own server on the Debian 12 image). Real Docker, a real control plane."""

import json

import pytest
import requests

from helpers import code_b64, ready_cells, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

VERSION = ("import sys\n"
           "def handler(event, context):\n"
           "    try:\n"
           "        import six\n"
           "    except ImportError:\n"
           "        six = None\n"
           "    python = f'{sys.version_info[0]}.{sys.version_info[1]}'\n"
           "    return f'{python} {six and six.__file__} {sys.implementation.cache_tag}'\n")

SERVER = r'''
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INITS = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        data = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            data += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return data

    def do_POST(self):
        body = self.body()
        if self.path == "/initialize":
            INITS.append(self.headers.get("x-fc-request-id"))
            print("initialized", flush=True)
            out = b"ok"
        elif self.path == "/invoke":
            print("invoked with", body.decode(), flush=True)
            out = json.dumps({"event": body.decode(), "inits": len(INITS), "argv": sys.argv[1:],
                              "port": os.environ.get("FC_SERVER_PORT"), "uid": os.getuid(),
                              "function": self.headers.get("x-fc-function-name"), "cwd": os.getcwd(),
                              "writable": os.access("/code", os.W_OK)}).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FC_SERVER_PORT", "9000"))), Handler).serve_forever()
'''


def test_each_python_runtime_runs_its_own_interpreter_and_pip(api, fn_name):
    listed = {r["name"]: r for r in api.request("GET", "/v1/runtimes").json()["runtimes"]}
    assert listed["python3.11"]["pythonVersion"] == "3.11" and listed["python3.13"]["pythonVersion"] == "3.13"
    assert listed["python3.11"]["image"] != listed["python3.13"]["image"]
    assert listed["custom.debian12"]["kind"] == "custom" and listed["custom.debian12"]["pythonVersion"] == "3.11"
    for runtime, version, requirements in (("python3.11", "3.11", None), ("python3.13", "3.13", "six==1.16.0\n")):
        name = f"{fn_name}-{version.replace('.', '')}"
        files = {"index.py": VERSION} | ({"requirements.txt": requirements} if requirements else {})
        created = api.deploy(name, files, runtime=runtime)
        assert created["runtime"] == runtime
        resp = api.invoke(name)
        assert resp.status_code == 200 and "X-Fc-Error-Type" not in resp.headers, resp.text
        running, six_file, tag = resp.text.split()
        # its own interpreter, the requirement installed by that interpreter's pip (3.11's: test_cells), the code
        # compiled for it
        assert running == version and tag == f"cpython-{version.replace('.', '')}"
        assert six_file == ("/var/fc/deps/six.py" if requirements else "None")


def test_a_runtime_change_rebuilds_on_the_new_interpreter_and_unknown_runtimes_are_refused(api, fn_name):
    api.deploy(fn_name, {"index.py": "import sys\ndef handler(e, c):\n    return sys.version.split()[0]\n"})
    assert api.invoke(fn_name).text.startswith("3.11.")
    resp = api.update(fn_name, {"index.py": "import sys\ndef handler(e, c):\n    return sys.version.split()[0]\n"},
                      runtime="python3.13")
    assert resp.status_code == 200, resp.text
    assert api.invoke(fn_name).text.startswith("3.13.")
    back = api.update(fn_name, runtime="python3.11")  # no code: the code it has, built again on 3.11
    assert back.status_code == 200 and back.json()["image"] != resp.json()["image"], back.text
    assert api.invoke(fn_name).text.startswith("3.11.")
    for bad in ("python3.12", "python3.13\n", "Python3.13", "custom.debian11", "", None, 3.13, ["python3.13"]):
        resp = api.create(f"{fn_name}-x", {"index.py": "def handler(e, c):\n    return 1\n"}, runtime=bad)
        assert resp.status_code == 400, (bad, resp.text)
        message = resp.json()["error"]["message"]
        assert "python3.11, python3.13, custom.debian12, custom-container" in message, message


def test_a_python_313_cold_start_takes_a_cell_of_its_own_runtime(platform, fn_name):
    plat = platform  # (its cells: FAAS_CELLS_MIN 1, of the default class)
    wait_for(lambda: ready_cells(plat) >= 1, timeout=60, what="a python3.11 cell ready")
    code = {"index.py": "import sys\ndef handler(e, c):\n    return sys.version.split()[0]\n"}
    plat.api.deploy(f"{fn_name}-a", code, runtime="python3.13", memoryMB=128)
    first = plat.api.invoke(f"{fn_name}-a")
    assert first.status_code == 200 and first.text.startswith("3.13."), first.text
    # its cold start asked for python3.13 cells: one is started for the next
    wait_for(lambda: ready_cells(plat, runtime="python3.13") >= 1, timeout=90, what="a python3.13 cell ready")
    plat.api.deploy(f"{fn_name}-b", code, runtime="python3.13", memoryMB=128)
    second = plat.api.invoke(f"{fn_name}-b")
    assert second.status_code == 200 and second.text.startswith("3.13."), second.text
    (inst,) = plat.api.request("GET", f"/v1/functions/{fn_name}-b/instances").json()["instances"]
    assert inst["startPath"] == "cell"


def test_a_custom_runtime_runs_its_shell_bootstrap_with_initializer_logs_and_limits(api, fn_name):
    bootstrap = "#!/bin/sh\nexec python3 /code/server.py --from-bootstrap\n"
    created = api.deploy(fn_name, {"bootstrap": bootstrap, "server.py": SERVER}, runtime="custom.debian12",
                         initializer="true", executable=("bootstrap",))
    assert created["customRuntimeConfig"] == {"command": None, "args": None, "port": 9000}
    resp = api.request("POST", f"/v1/functions/{fn_name}/invocations", data=b"hello",
                       headers={"X-Fc-Log-Type": "Tail"})
    assert resp.status_code == 200 and "X-Fc-Error-Type" not in resp.headers, resp.text
    seen = resp.json()
    assert seen == {"event": "hello", "inits": 1, "argv": ["--from-bootstrap"], "port": "9000", "uid": 10001,
                    "function": fn_name, "cwd": "/code", "writable": False}
    assert api.invoke(fn_name, b"again").json()["inits"] == 1  # warm: initialised once
    def logs():
        text = api.request("GET", f"/v1/functions/{fn_name}/logs").text
        return text if "invoked with again" in text else None

    logs = wait_for(logs, what="the runtime's output in the function's logs")
    assert "invoked with hello" in logs and "initialized" in logs


def test_a_custom_runtime_started_by_its_command_on_another_port_through_its_http_trigger(api, platform, fn_name):
    api.deploy(fn_name, {"app/server.py": SERVER}, runtime="custom.debian12",
               customRuntimeConfig={"command": ["python3", "/code/app/server.py"], "args": ["-x"], "port": 8080})
    resp = api.invoke(fn_name, b"{}")
    assert resp.status_code == 200 and resp.json()["argv"] == ["-x"] and resp.json()["port"] == "8080", resp.text
    trigger = api.request("POST", f"/v1/functions/{fn_name}/triggers",
                          json={"triggerName": "web", "triggerType": "http",
                                "triggerConfig": {"authType": "anonymous", "methods": ["POST"]}})
    assert trigger.status_code == 201, trigger.text
    # proxied as it came, as to a custom container: the server sees the request's own path
    through = requests.post(f"{platform.url}/function/{fn_name}/invoke", data=b"via-http")
    assert through.status_code == 200 and json.loads(through.text)["event"] == "via-http", through.text


def test_a_custom_runtime_whose_bootstrap_is_missing_not_executable_or_exits(api, fn_name):
    def create(name, files, executable=(), **spec):
        body = {"name": name, "runtime": "custom.debian12", "code": {"zipFile": code_b64(files, executable)}, **spec}
        return api.request("POST", "/v1/functions", json=body)

    resp = create(fn_name, {"bootstrap": "#!/bin/sh\nexit 0\n"})  # mode 0644
    assert resp.status_code == 400 and "bootstrap of the code zip is not executable" in resp.text, resp.text
    resp = create(fn_name, {"server.py": SERVER})
    assert resp.status_code == 400 and "/code/bootstrap, which is not a file of the code zip" in resp.text
    resp = create(fn_name, {"server.py": SERVER}, customRuntimeConfig={"command": ["/code/start.sh"]})
    assert resp.status_code == 400 and "/code/start.sh, which is not a file" in resp.text
    resp = create(fn_name, {"bootstrap\n": "#!/bin/sh\n"}, executable=("bootstrap\n",))
    assert resp.status_code == 400, resp.text
    resp = create(fn_name, {"bootstrap": "#!/bin/sh\n"}, executable=("bootstrap",), handlerType="wsgi")
    assert resp.status_code == 400 and "serves HTTP itself" in resp.text
    assert api.request("GET", f"/v1/functions/{fn_name}").status_code == 404  # nothing was made

    resp = create(fn_name, {"bootstrap": "#!/bin/sh\necho 'no server here' >&2\nexit 3\n"}, executable=("bootstrap",))
    assert resp.status_code == 201, resp.text
    failed = api.invoke(fn_name)
    message = failed.json()["error"]["message"]
    # (told at its start, or by the wait for its port: whichever sees it gone first)
    assert failed.status_code == 503 and ("exited at once (exit code 3): no server here" in message
                                          or "exited before it listened on port 9000" in message), failed.text
    assert api.request("GET", "/healthz").status_code == 200
