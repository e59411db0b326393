"""faasctl, run as a subprocess against a running platform with its workers."""

import json
import os
import pty
import subprocess
import sys
import threading

import pytest

from helpers import wait_for, wait_repeating

pytestmark = [pytest.mark.docker, pytest.mark.redis]


@pytest.fixture
def faasctl(async_stack, tmp_path):
    plat, _ = async_stack

    def run(*args, input: bytes | None = None, token: str | None = None):
        env = {"PATH": "/usr/bin:/bin", "FAAS_URL": plat.url, "FAAS_TOKEN": token or plat.env["FAAS_API_TOKEN"],
               "HOME": str(tmp_path)}
        proc = subprocess.run([sys.executable, "-m", "faas.cli.main", *args], input=input, capture_output=True,
                              env=env, cwd=tmp_path, timeout=300)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    return run


@pytest.fixture
def fn_dir(tmp_path, fn_name):
    d = tmp_path / "fn"
    d.mkdir()
    (d / "index.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    if event == b'boom':\n"
        "        raise ValueError('it went boom')\n"
        "    return os.environ.get('GREETING', 'hello') + ' ' + event.decode()\n")
    (d / "faas.toml").write_text(f'name = "{fn_name}"\nhandler = "index.handler"\nmemoryMB = 128\n'
                                 '[environment]\nGREETING = "hi"\n')
    return d


def test_deploy_then_unchanged_then_updated(faasctl, fn_dir, fn_name):
    code, out, err = faasctl("deploy", str(fn_dir))
    assert code == 0, err
    assert out.startswith("created " + fn_name)
    code, out, _ = faasctl("--json", "deploy", str(fn_dir))
    assert code == 0 and json.loads(out)["action"] == "unchanged" and json.loads(out)["function"]["revision"] == 1
    code, out, _ = faasctl("--json", "deploy", str(fn_dir), "--memory", "256", "--env", "GREETING=hey")
    data = json.loads(out)
    assert code == 0 and data["action"] == "updated" and data["function"]["memoryMB"] == 256
    assert data["function"]["revision"] == 2
    (fn_dir / "index.py").write_text("def handler(e, c):\n    return 'v3'\n")
    code, out, _ = faasctl("--json", "deploy", str(fn_dir), "--memory", "256", "--env", "GREETING=hey")
    assert code == 0 and json.loads(out)["function"]["revision"] == 3
    # A cold start from its image may outlast this platform's 1 s queue timeout on a busy machine (429).
    wait_for(lambda: faasctl("invoke", fn_name)[1] == "v3", timeout=30, what="v3 to answer")


def test_deploy_build_failure_exits_2_with_the_log(faasctl, fn_dir):
    (fn_dir / "index.py").write_text("def handler(e, c)\n    return 1\n")
    code, out, err = faasctl("deploy", str(fn_dir))
    assert code == 2 and "BuildFailed" in err and "SyntaxError" in err and out == ""


def test_invoke_list_get_instances_reserve_delete(faasctl, fn_dir, fn_name):
    assert faasctl("deploy", str(fn_dir))[0] == 0
    assert faasctl("invoke", fn_name, "world") == (0, "hi world", "")
    assert faasctl("invoke", fn_name, input=b"from stdin")[1] == "hi from stdin"
    event_file = fn_dir / "event.txt"
    event_file.write_text("from a file")
    assert faasctl("invoke", fn_name, "--file", str(event_file))[1] == "hi from a file"

    code, out, err = faasctl("invoke", fn_name, "boom")
    assert code == 1 and out == ""
    assert "ValueError: it went boom" in err and "HandledInvocationError" in err and "index.py" in err
    code, out, _ = faasctl("--json", "invoke", fn_name, "boom")
    assert code == 1 and json.loads(out)["error"] == "HandledInvocationError"

    code, out, _ = faasctl("list")
    assert code == 0 and any(line.split("\t")[0] == fn_name for line in out.splitlines())
    assert fn_name in [f["name"] for f in json.loads(faasctl("--json", "list")[1])]
    code, out, _ = faasctl("get", fn_name)
    assert code == 0 and f"name\t{fn_name}" in out.splitlines()
    assert json.loads(faasctl("--json", "get", fn_name)[1])["name"] == fn_name

    code, out, _ = faasctl("--json", "instances", fn_name)
    assert code == 0 and len(json.loads(out)["instances"]) == 1
    instance_id = json.loads(out)["instances"][0]["instanceId"]
    code, out, _ = faasctl("instances", fn_name)  # piped: tab-separated, the transport last
    (row,) = [line.split("\t") for line in out.splitlines() if line.startswith(instance_id)]
    assert code == 0 and row[1] == "Ready" and row[-1] == "unix"
    code, out, _ = faasctl("--json", "reserve", fn_name, "1")
    assert code == 0 and json.loads(out)["target"] == 1 and json.loads(out)["qualifier"] == "LATEST"
    code, out, _ = faasctl("reserve", fn_name, "0")
    assert code == 0 and "0 reserved" in out

    assert faasctl("delete", fn_name, "--yes")[0] == 0
    code, _, err = faasctl("get", fn_name)
    assert code == 2 and "FunctionNotFound" in err
    code, _, err = faasctl("--json", "delete", fn_name, "--yes")
    assert code == 2 and json.loads(err)["error"]["code"] == "FunctionNotFound"


def test_async_invoke_wait_and_queue_read(faasctl, fn_dir, fn_name):
    (fn_dir / "faas.toml").write_text(f'name = "{fn_name}"\n[environment]\nGREETING = "hi"\n'
                                      f'[async]\nonSuccess = "queue:{fn_name}-done"\nretries = 0\n')
    assert faasctl("deploy", str(fn_dir))[0] == 0
    code, request_id, _ = faasctl("invoke", "--async", fn_name, "later")
    request_id = request_id.strip()
    assert code == 0 and len(request_id) == 36
    assert faasctl("wait", request_id) == (0, "hi later\n", "")
    code, out, _ = faasctl("--json", "queue", "read", f"{fn_name}-done")
    messages = json.loads(out)["messages"]
    assert code == 0 and [m["record"]["requestContext"]["requestId"] for m in messages] == [request_id]

    code, failing, _ = faasctl("invoke", "--async", fn_name, "boom")
    code, _, err = faasctl("wait", failing.strip())
    assert code == 1 and "RetriesExhausted" in err and "it went boom" in err

    # A task id of the caller's, accepted once; a stop of an ended invocation is refused by name.
    task = f"cli-{fn_name}"
    assert faasctl("invoke", "--async", "--task-id", task, fn_name, "once") == (0, task + "\n", "")
    code, _, err = faasctl("invoke", "--async", "--task-id", task, fn_name, "twice")
    assert code == 2 and "InvocationAlreadyExists" in err
    assert faasctl("wait", task) == (0, "hi once\n", "")
    code, _, err = faasctl("stop", task)
    assert code == 2 and "InvocationEnded" in err
    code, _, err = faasctl("invoke", "--task-id", task, fn_name, "sync")
    assert code != 0 and "--async" in err


def test_tokens_and_platform_errors(faasctl, fn_dir, fn_name):
    code, out, _ = faasctl("--json", "token", "create", "--role", "invoke", "--name", "cli-test")
    created = json.loads(out)
    assert code == 0 and created["token"].startswith("faas_invoke_")
    assert created["id"] in [t["id"] for t in json.loads(faasctl("--json", "token", "list")[1])]
    assert faasctl("deploy", str(fn_dir))[0] == 0
    assert faasctl("invoke", fn_name, "x", token=created["token"])[0] == 0
    code, _, err = faasctl("list", token=created["token"])
    assert code == 2 and "Forbidden" in err
    code, _, err = faasctl("list", token="faas_admin_nope")
    assert code == 2 and "Unauthorized" in err
    assert faasctl("token", "revoke", created["id"])[0] == 0


def test_access_keys_are_made_listed_and_revoked(faasctl):
    code, out, err = faasctl("key", "create", "--role", "invoke", "--name", "cli-key")
    key_id, secret = out.split()
    assert code == 0 and key_id.startswith("FK") and len(secret) == 30 and "shown once" in err
    code, out, _ = faasctl("key", "list")
    assert code == 0 and key_id in out and "cli-key" in out and secret not in out
    assert key_id in [k["accessKeyId"] for k in json.loads(faasctl("--json", "key", "list")[1])]
    assert faasctl("key", "revoke", key_id)[0] == 0
    code, _, err = faasctl("key", "revoke", key_id)
    assert code != 0 and "AccessKeyNotFound" in err


def test_runtimes_are_listed_with_their_python(faasctl):
    code, out, _ = faasctl("runtimes")
    assert code == 0 and "python3.11" in out and "custom-container" in out and "3.11" in out
    listed = {r["name"]: r for r in json.loads(faasctl("--json", "runtimes")[1])}
    assert listed["python3.11"]["pythonVersion"] == "3.11" and "lambda" in listed["python3.11"]["handlerTypes"]
    assert listed["custom-container"]["protocols"] == ["fc", "lambda"]


def test_layers_published_listed_deleted_and_named_or_published_by_the_spec_file(faasctl, fn_dir, fn_name,
                                                                                 tmp_path):
    layer = "cli-" + fn_name[-30:]
    source = tmp_path / "layer-src"
    (source / "python").mkdir(parents=True)
    (source / "python" / "greeting.py").write_text("WORD = 'from a layer'\n")
    code, out, err = faasctl("layer", "publish", layer, str(source), "--description", "words",
                             "--runtime", "python3.11")
    assert code == 0 and f"published layer {layer}:1" in out, err
    code, out, _ = faasctl("--json", "layer", "list", layer)
    (listed,) = json.loads(out)
    assert (listed["ref"], listed["description"], listed["compatibleRuntimes"]) == (f"{layer}:1", "words",
                                                                                  ["python3.11"])
    assert layer in faasctl("layer", "list")[1]

    (fn_dir / "index.py").write_text("import greeting\ndef handler(e, c):\n    return greeting.WORD\n")
    shared = tmp_path / "fn" / "shared"  # a second layer, published from the function's own spec file
    (shared / "python").mkdir(parents=True)
    (shared / "python" / "extra.py").write_text("X = 1\n")
    (fn_dir / "faas.toml").write_text(f'name = "{fn_name}"\n[[layers]]\nname = "{layer}"\nversion = 1\n'
                                      f'[[layers]]\nname = "{layer}-own"\npath = "shared"\n')
    code, out, err = faasctl("--json", "deploy", str(fn_dir))
    assert code == 0, err
    assert json.loads(out)["function"]["layers"] == [f"{layer}:1", f"{layer}-own:1"]
    assert f"published layer {layer}-own:1 from shared" in err
    wait_for(lambda: faasctl("invoke", fn_name)[1] == "from a layer", timeout=30, what="the layer's word")
    code, out, _ = faasctl("--json", "deploy", str(fn_dir))  # the same files: no new version of the layer
    assert code == 0 and json.loads(out)["action"] == "unchanged"
    code, _, err = faasctl("layer", "delete", layer, "1")
    assert code != 0 and "ResourceInUse" in err
    assert faasctl("delete", fn_name, "-y")[0] == 0
    assert faasctl("layer", "delete", layer, "1")[0] == 0
    (fn_dir / "faas.toml").write_text(f'name = "{fn_name}"\n[[layers]]\nversion = 1\n')
    code, _, err = faasctl("deploy", str(fn_dir))
    assert code != 0 and "each with a name" in err
    for table, said in (('name = "x"\nversoin = 1\n', "unknown key(s) in [[layers]] x: versoin"),
                        ('name = "x"\nversion = "1\\n"\n', "layers"), ('name = "x\\n"\n', "layers"),
                        ('name = "' + "x" * 300 + '"\n', "layers")):
        (fn_dir / "faas.toml").write_text(f'name = "{fn_name}"\n[[layers]]\n{table}')
        code, _, err = faasctl("deploy", str(fn_dir))
        assert code != 0 and said in err, (table, err)
    assert faasctl("get", fn_name)[0] != 0  # none of them made the function


def test_unreachable_platform_exits_2(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FAAS_URL": "http://127.0.0.1:9", "FAAS_TOKEN": "x", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "faas.cli.main", "list"], capture_output=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and b"cannot reach" in proc.stderr


def test_logs_commands(faasctl, fn_dir, fn_name):
    (fn_dir / "index.py").write_text("def handler(event, context):\n    print('said', event.decode())\n"
                                     "    return 'ok'\n")
    assert faasctl("deploy", str(fn_dir))[0] == 0
    code, out, err = faasctl("invoke", "--log", fn_name, "hello")
    assert code == 0 and out == "ok" and "said hello" in err and "REPORT RequestId" in err
    code, out, _ = faasctl("--json", "invoke", "--log", fn_name, "again")
    data = json.loads(out)
    assert code == 0 and "said again" in data["log"]
    code, out, _ = faasctl("logs", fn_name, "--tail", "100")
    assert code == 0 and "said hello" in out and "said again" in out
    code, out, _ = faasctl("logs", "--request", data["requestId"])
    assert code == 0 and out.startswith("said again\n") and "REPORT" in out
    code, _, err = faasctl("logs")
    assert code == 2 and "NAME" in err


def test_logs_follow(async_stack, fn_dir, fn_name, faasctl, tmp_path):
    plat, _ = async_stack
    (fn_dir / "index.py").write_text("def handler(event, context):\n    print('followed', event.decode())\n")
    assert faasctl("deploy", str(fn_dir))[0] == 0
    env = {"PATH": "/usr/bin:/bin", "FAAS_URL": plat.url, "FAAS_TOKEN": plat.env["FAAS_API_TOKEN"],
           "HOME": str(tmp_path)}
    follower = subprocess.Popen([sys.executable, "-m", "faas.cli.main", "logs", fn_name, "--follow", "--tail", "0"],
                                stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        lines = _lines_of(follower.stdout)
        sent: list[str] = []

        def call() -> None:
            sent.append(f"now-{len(sent)}")
            assert faasctl("invoke", fn_name, sent[-1])[0] == 0

        # It prints only what comes after it connected: calls until it prints one's line (not a REPORT line).
        line = wait_repeating(call, lambda: next((x for x in list(lines) if " followed " in x), None),
                              what="the follower to print a call's line")
        assert any(line.endswith(f"followed {event}\n") for event in sent), (line, sent)
    finally:
        follower.kill()
        follower.wait()


def _lines_of(stream) -> list[str]:
    """The lines of `stream` so far, read by a thread of their own: a test waits on them with a bound, so it
    cannot hang on a child that prints nothing."""
    lines: list[str] = []

    def pump() -> None:
        for line in iter(stream.readline, b""):
            lines.append(line.decode())

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_token_file_of_the_project_directory(async_stack, tmp_path):
    plat, _ = async_stack
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "api-token").write_text(plat.env["FAAS_API_TOKEN"] + "\n")
    (tmp_path / "sub").mkdir()
    env = {"PATH": "/usr/bin:/bin", "FAAS_URL": plat.url, "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "faas.cli.main", "--json", "list"], capture_output=True, env=env,
                          cwd=tmp_path / "sub")
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), list)


def test_delete_asks_on_a_terminal(async_stack, fn_dir, fn_name, faasctl, tmp_path):
    plat, _ = async_stack
    assert faasctl("deploy", str(fn_dir))[0] == 0
    env = {"PATH": "/usr/bin:/bin", "FAAS_URL": plat.url, "FAAS_TOKEN": plat.env["FAAS_API_TOKEN"],
           "HOME": str(tmp_path)}
    master, slave = pty.openpty()
    os.write(master, b"n\n")
    proc = subprocess.run([sys.executable, "-m", "faas.cli.main", "delete", fn_name], stdin=slave,
                          capture_output=True, env=env, timeout=60)
    os.close(slave)
    os.close(master)
    assert proc.returncode == 2 and b"not deleted" in proc.stderr
    assert faasctl("get", fn_name)[0] == 0  # still there


def test_invoke_on_a_terminal_ends_the_result_with_a_newline(faasctl, fn_dir, fn_name, async_stack):
    """The prompt after `faasctl invoke` starts on a line of its own."""
    plat, _ = async_stack
    assert faasctl("deploy", str(fn_dir))[0] == 0
    env = {"PATH": "/usr/bin:/bin", "FAAS_URL": plat.url, "FAAS_TOKEN": plat.env["FAAS_API_TOKEN"],
           "TERM": "xterm"}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "faas.cli.main", "invoke", fn_name, "world"], stdin=slave,
                            stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert output.endswith(b"\r\n") and output.strip(), output


@pytest.mark.parametrize("args", [["list", "--json"], ["--json", "list"], ["list", "--json", "--url", "{url}"],
                                  ["get", "{name}", "--json"]])
def test_global_options_go_anywhere(faasctl, fn_dir, fn_name, async_stack, args):
    plat, _ = async_stack
    assert faasctl("deploy", str(fn_dir))[0] == 0
    code, out, err = faasctl(*[a.format(url=plat.url, name=fn_name) for a in args])
    assert code == 0, err
    json.loads(out)


def test_triggers_from_the_cli_and_the_spec_file(faasctl, fn_dir, fn_name, async_stack):
    spec = (f'name = "{fn_name}"\nhandler = "index.handler"\n\n'
            '[[triggers]]\ntriggerName = "web"\ntriggerType = "http"\n'
            '[triggers.triggerConfig]\nauthType = "anonymous"\nmethods = ["GET"]\n\n'
            '[[triggers]]\ntriggerName = "nightly"\ntriggerType = "timer"\n'
            '[triggers.triggerConfig]\ncronExpression = "CRON_TZ=Asia/Shanghai 0 0 2 * * *"\npayload = "p"\n')
    (fn_dir / "faas.toml").write_text(spec)
    code, out, err = faasctl("--json", "deploy", str(fn_dir))
    assert code == 0, err
    assert sorted(json.loads(out)["triggers"]) == ["trigger nightly created", "trigger web created"]
    code, out, _ = faasctl("trigger", "list", fn_name)
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert rows["web"][1] == "http" and rows["web"][2] == "LATEST" and f"/function/{fn_name}" in rows["web"][3]
    assert rows["nightly"][1] == "timer" and "next 20" in rows["nightly"][3] and rows["nightly"][3].endswith(":00:00Z")
    import requests

    assert requests.get(f"{async_stack[0].url}/function/{fn_name}").status_code == 200
    code, out, err = faasctl("trigger", "create", fn_name, "jobs", "--type", "queue", "--queue", f"{fn_name}-q",
                             "--batch-size", "5", "--json")
    assert code == 0, err
    assert json.loads(out)["triggerConfig"]["batchSize"] == 5
    code, out, _ = faasctl("queue", "publish", f"{fn_name}-other", "a message")
    assert code == 0 and out.strip().split("-")[0].isdigit()
    message_id = out.strip()
    code, out, err = faasctl("queue", "read", f"{fn_name}-other")  # a published message, not a record
    assert code == 0 and message_id in out and "a message" in out, err
    code, out, err = faasctl("queue", "delete", f"{fn_name}-other", "--through", message_id)
    assert code == 0 and "deleted 1 message" in out, err
    code, _, err = faasctl("queue", "delete", f"{fn_name}-other", "--through", "not-an-id")
    assert code != 0 and "through" in err
    code, out, _ = faasctl("trigger", "list", fn_name)
    assert "pending=" in out and "lag=" in out
    code, _, err = faasctl("trigger", "create", fn_name, "bad", "--type", "timer", "--cron", "every minute")
    assert code == 2 and "cronExpression" in err
    code, out, _ = faasctl("--json", "trigger", "update", fn_name, "nightly", "--cron", "@every 1h", "--disable")
    assert code == 0 and json.loads(out)["nextFiring"] is None
    code, out, _ = faasctl("--json", "trigger", "get", fn_name, "nightly")
    assert json.loads(out)["triggerConfig"] == {"cronExpression": "@every 1h", "payload": "", "enable": False}
    # the spec file is the truth: a deploy makes the triggers its own again (the queue trigger goes)
    code, out, err = faasctl("--json", "deploy", str(fn_dir))
    assert code == 0, err
    assert sorted(json.loads(out)["triggers"]) == ["trigger jobs deleted", "trigger nightly updated"]
    assert faasctl("trigger", "delete", fn_name, "web")[0] == 0
    assert faasctl("trigger", "get", fn_name, "web")[0] == 2


def test_publish_versions_alias_and_rollback(faasctl, fn_dir, fn_name):
    assert faasctl("deploy", str(fn_dir))[0] == 0
    code, out, err = faasctl("publish", fn_name, "--description", "first")
    assert code == 0 and "version 1" in out, err
    code, _, err = faasctl("publish", fn_name)
    assert code == 2 and "NothingToPublish" in err
    (fn_dir / "index.py").write_text("def handler(e, c):\n    return 'second'\n")
    assert faasctl("deploy", str(fn_dir))[0] == 0
    assert json.loads(faasctl("--json", "publish", fn_name)[1])["versionId"] == "2"
    code, out, _ = faasctl("versions", fn_name)
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["2", "1"]  # piped: no header
    assert [v["versionId"] for v in json.loads(faasctl("--json", "versions", fn_name)[1])] == ["2", "1"]

    code, out, err = faasctl("alias", "set", fn_name, "prod", "1", "--weight", "2=0.25")
    assert code == 0 and "prod -> version 1, 0.25 to version 2" in out, err
    code, _, err = faasctl("alias", "set", fn_name, "prod", "1", "--weight", "2")
    assert code == 2 and "VERSION=WEIGHT" in err
    assert faasctl("invoke", fn_name, "x", "--qualifier", "1") == (0, "hi x", "")
    assert faasctl("alias", "set", fn_name, "prod", "2")[0] == 0
    data = json.loads(faasctl("--json", "invoke", fn_name, "x", "-q", "prod")[1])
    assert data["body"] == "second" and data["version"] == "2"
    aliases = json.loads(faasctl("--json", "alias", "list", fn_name)[1])
    assert [(a["aliasName"], a["versionId"], a["previousVersionId"]) for a in aliases] == [("prod", "2", "1")]
    code, out, err = faasctl("rollback", fn_name, "prod")
    assert code == 0 and "prod -> version 1" in out, err
    assert faasctl("invoke", fn_name, "y", "-q", "prod")[1] == "hi y"
    instances = json.loads(faasctl("--json", "instances", fn_name, "--qualifier", "prod")[1])
    assert instances["versionIds"] == ["1"] and {i["versionId"] for i in instances["instances"]} == {"1"}
    code, out, _ = faasctl("--json", "reserve", fn_name, "1", "--qualifier", "prod")
    assert code == 0 and json.loads(out)["target"] == 1
    assert faasctl("reserve", fn_name, "0", "-q", "prod")[0] == 0
    code, _, err = faasctl("versions", fn_name, "--delete", "1")
    assert code == 2 and "ResourceInUse" in err
    assert faasctl("alias", "delete", fn_name, "prod")[0] == 0
    code, _, err = faasctl("rollback", fn_name, "prod")
    assert code == 2 and "AliasNotFound" in err
    assert faasctl("versions", fn_name, "--delete", "1")[0] == 0
    assert [v["versionId"] for v in json.loads(faasctl("--json", "versions", fn_name)[1])] == ["2"]
    code, _, err = faasctl("invoke", fn_name, "x", "-q", "bad qualifier")
    assert code == 2 and "InvalidArgument" in err


def test_nodes_on_a_single_host(faasctl):
    code, out, _ = faasctl("nodes")
    assert code == 0 and "one host" in out
    code, out, _ = faasctl("--json", "nodes")
    assert code == 0 and json.loads(out) == {"role": "all", "nodes": []}
    code, _, err = faasctl("nodes", "--drain", "h1")
    assert code != 0 and "NodeNotFound" in err
