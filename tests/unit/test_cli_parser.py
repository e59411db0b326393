"""faasctl's parser (each command module registers its commands and options) and deploy's directory reading."""

from __future__ import annotations

import argparse
import zipfile
from io import BytesIO

import pytest

from faas.cli import capacity, deploy, functions, invocations, layers, queues, tokens, triggers, versions
from faas.cli.command import CommandError
from faas.cli.main import parser


@pytest.mark.parametrize("argv, func", [
    (["deploy", "dir"], deploy.cmd_deploy),
    (["list"], functions.cmd_list),
    (["delete", "f", "-y"], functions.cmd_delete),
    (["runtimes"], functions.cmd_runtimes),
    (["invoke", "f", "event", "-q", "prod"], invocations.cmd_invoke),
    (["wait", "r1"], invocations.cmd_wait),
    (["stop", "r1"], invocations.cmd_stop),
    (["reserve", "f", "2"], capacity.cmd_reserve),
    (["nodes", "--drain", "n1"], capacity.cmd_nodes),
    (["alias", "set", "f", "prod", "2", "--weight", "3=0.1"], versions.cmd_alias),
    (["rollback", "f", "prod"], versions.cmd_rollback),
    (["layer", "publish", "numpy", "dir", "--runtime", "python3.13"], layers.cmd_layer),
    (["layer", "list"], layers.cmd_layer),
    (["layer", "delete", "numpy", "2"], layers.cmd_layer),
    (["queue", "publish", "x", "hello"], queues.cmd_queue_publish),
    (["trigger", "create", "f", "t", "--type", "timer", "--cron", "@every 1m"], triggers.cmd_trigger),
    (["token", "revoke", "tk"], tokens.cmd_token),
])
def test_each_command_runs_its_modules_function(argv, func):
    assert parser().parse_args(argv).func is func


def test_commands_listed_in_help_order():
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == ["deploy", "list", "get", "delete", "runtimes", "invoke", "logs", "wait", "stop",
                                 "instances", "nodes", "reserve", "publish", "versions", "alias", "rollback", "layer",
                                 "queue", "trigger", "token", "key"]


@pytest.mark.parametrize("argv", [["--json", "--url", "http://u", "alias", "list", "f"],
                                  ["alias", "list", "f", "--json", "--url", "http://u"],
                                  ["--url", "http://u", "alias", "list", "f", "--json"]])
def test_global_options_go_before_or_after_the_command(argv):
    args = parser().parse_args(argv)
    assert (args.json, args.url, args.token) == (True, "http://u", None)


def test_deploy_reads_the_spec_file_and_its_overrides(tmp_path):
    fn = tmp_path / "My_Fn"
    fn.mkdir()
    (fn / deploy.SPEC_FILE).write_text('handler = "index.handler"\nenvironment = { A = "1" }\n')
    args = parser().parse_args(["deploy", str(fn), "--memory", "256", "--env", "B=2"])
    assert deploy.read_spec(fn, args) == {"name": "my-fn", "handler": "index.handler", "memoryMB": 256,
                                          "environment": {"A": "1", "B": "2"}}
    with pytest.raises(CommandError, match="KEY=VALUE"):
        deploy.read_spec(fn, parser().parse_args(["deploy", str(fn), "--env", "B"]))
    args = parser().parse_args(["deploy", str(fn), "--keep-alive-policy", "fixed", "--keep-alive", "60"])
    assert deploy.read_spec(fn, args)["keepAlivePolicy"] == "fixed" and deploy.read_spec(fn, args)[
        "keepAliveSeconds"] == 60
    with pytest.raises(SystemExit):
        parser().parse_args(["deploy", str(fn), "--keep-alive-policy", "lru"])


def test_deploy_zips_the_code_without_spec_or_caches_the_same_each_time(tmp_path):
    (tmp_path / "index.py").write_text("x = 1\n")
    (tmp_path / deploy.SPEC_FILE).write_text('name = "f"\n')
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "index.cpython-312.pyc").write_bytes(b"\0")
    raw = deploy.zip_directory(tmp_path)
    assert zipfile.ZipFile(BytesIO(raw)).namelist() == ["index.py"]
    assert deploy.zip_directory(tmp_path) == raw
