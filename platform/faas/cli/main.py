"""faasctl: deploy, inspect, invoke and operate functions.

Exit codes: 0 success; 1 the function failed (its error type, message and stack trace on stderr);
2 the platform refused or could not be reached (its message on stderr). Tables and colours on a
terminal, plain text when piped, JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import capacity, deploy, functions, invocations, queues, versions
from . import output as out
from .client import Client, PlatformError
from .command import QUALIFIER_HELP, CommandError, print_deleted


# -- triggers
def _trigger_config(args) -> dict | None:
    """triggerConfig from --config JSON and the per-type options (which win)."""
    config: dict = {}
    if args.config:
        try:
            config = json.loads(args.config)
        except ValueError as exc:
            raise CommandError(f"--config is not JSON: {exc}") from None
        if not isinstance(config, dict):
            raise CommandError("--config must be a JSON object")
    options = {"authType": args.auth, "cronExpression": args.cron, "payload": args.payload,
               "queueName": args.queue, "batchSize": args.batch_size, "batchWindowSeconds": args.batch_window,
               "startFrom": args.start_from}
    if args.methods:
        options["methods"] = [m.strip().upper() for m in args.methods.split(",") if m.strip()]
    if args.disable:
        options["enable"] = False
    config.update({k: v for k, v in options.items() if v is not None})
    return config or None


def _trigger_detail(t: dict) -> str:
    config = t["triggerConfig"]
    if t["triggerType"] == "http":
        return f"{t.get('urlPath')} auth={config['authType']} methods={','.join(config['methods'])}"
    if t["triggerType"] == "timer":
        state = f"next {t.get('nextFiring')}" if config.get("enable", True) else "disabled"
        return f"{config['cronExpression']!r} {state}"
    backlog = t.get("backlog") or {}
    return (f"queue:{config['queueName']} batch={config['batchSize']} window={config['batchWindowSeconds']}s "
            f"pending={backlog.get('pending')} lag={backlog.get('lag')}")


def _trigger_fields(args) -> dict:
    """The fields of a trigger create or update that its options set (absent ones are left out)."""
    fields = {"triggerConfig": _trigger_config(args), "description": args.description, "qualifier": args.qualifier}
    return {k: v for k, v in fields.items() if v is not None}


def cmd_trigger(client: Client, args) -> int:
    base = f"/v1/functions/{args.name}/triggers"
    command = args.trigger_command
    if command == "list":
        triggers = client.json("GET", base)["triggers"]
        if args.json:
            out.print_json(triggers)
        else:
            out.table(["TRIGGER", "TYPE", "QUALIFIER", "DETAIL"],
                      [[t["triggerName"], t["triggerType"], t.get("qualifier", "LATEST"), _trigger_detail(t)]
                       for t in triggers])
        return 0
    if command == "delete":
        client.call("DELETE", f"{base}/{args.trigger}", ok=(204,))
        print_deleted(args, "trigger", args.trigger)
        return 0
    if command == "get":
        trigger = client.json("GET", f"{base}/{args.trigger}")
    elif command == "create":
        body = {"triggerName": args.trigger, "triggerType": args.type} | _trigger_fields(args)
        trigger = client.json("POST", base, ok=(201,), json=body)
    else:  # update
        trigger = client.json("PUT", f"{base}/{args.trigger}", json=_trigger_fields(args))
    if args.json:
        out.print_json(trigger)
    else:
        out.fields(trigger | {"detail": _trigger_detail(trigger)},
                   ["triggerName", "triggerType", "qualifier", "triggerConfig", "description", "detail"])
    return 0


# -- tokens
def cmd_token(client: Client, args) -> int:
    if args.token_command == "create":
        data = client.json("POST", "/v1/tokens", ok=(201,), json={"role": args.role, "name": args.name})
        if args.json:
            out.print_json(data)
        else:
            print(data["token"])
            print(f"token {data['id']} ({data['role']}): shown once, keep it safe", file=sys.stderr)
    elif args.token_command == "list":
        tokens = client.json("GET", "/v1/tokens")["tokens"]
        if args.json:
            out.print_json(tokens)
        else:
            out.table(["ID", "ROLE", "NAME", "CREATED"],
                      [[t["id"], t["role"], t["name"], time.strftime("%Y-%m-%d %H:%M", time.localtime(t["createdAt"]))]
                       for t in tokens])
    else:
        client.call("DELETE", f"/v1/tokens/{args.id}", ok=(204,))
        print(f"revoked {args.id}") if not args.json else out.print_json({"revoked": args.id})
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="faasctl", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(p, None)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    deploy.register(sub)
    functions.register(sub)
    invocations.register(sub)
    capacity.register(sub)
    versions.register(sub)
    queues.register(sub)
    tg = sub.add_parser("trigger", help="a function's triggers (http, timer, queue)")
    tgs = tg.add_subparsers(dest="trigger_command", required=True)
    tl = tgs.add_parser("list", help="list a function's triggers, with a timer's next firing and a queue's backlog")
    tl.add_argument("name")
    for verb, text in (("get", "describe a trigger"), ("delete", "delete a trigger")):
        tx = tgs.add_parser(verb, help=text)
        tx.add_argument("name")
        tx.add_argument("trigger")
    for verb, text in (("create", "add a trigger"), ("update", "change a trigger's config or description")):
        tx = tgs.add_parser(verb, help=text)
        tx.add_argument("name")
        tx.add_argument("trigger")
        if verb == "create":
            tx.add_argument("--type", required=True, choices=["http", "timer", "queue"])
        tx.add_argument("--config", help="triggerConfig as JSON (the options below change it)")
        tx.add_argument("--description")
        tx.add_argument("--qualifier", help=QUALIFIER_HELP)
        tx.add_argument("--auth", choices=["anonymous", "function"], help="http: who may call it")
        tx.add_argument("--methods", help="http: methods it accepts, comma-separated (default all)")
        tx.add_argument("--cron", help="timer: '@every 1m' or 6-field cron with seconds ('0 0/5 * * * *')")
        tx.add_argument("--payload", help="timer: the payload of its events")
        tx.add_argument("--disable", action="store_true", help="timer: do not fire")
        tx.add_argument("--queue", help="queue: the queue (a name, as in queue:NAME)")
        tx.add_argument("--batch-size", type=int, help="queue: messages per invocation (1-100)")
        tx.add_argument("--batch-window", type=int, help="queue: seconds to wait for a full batch (0-60)")
        tx.add_argument("--start-from", choices=["latest", "earliest"], help="queue: where a new trigger starts")
    tg.set_defaults(func=cmd_trigger)

    t = sub.add_parser("token", help="API tokens")
    ts = t.add_subparsers(dest="token_command", required=True)
    tc = ts.add_parser("create", help="make a token (printed once)")
    tc.add_argument("--role", choices=["admin", "invoke"], required=True)
    tc.add_argument("--name", required=True)
    ts.add_parser("list", help="list tokens")
    tr = ts.add_parser("revoke", help="revoke a token")
    tr.add_argument("id")
    t.set_defaults(func=cmd_token)
    for command in _subparsers(p):  # --json, --url and --token go before or after the command alike
        _global_options(command, argparse.SUPPRESS)
    return p


def _global_options(p: argparse.ArgumentParser, default) -> None:
    """The options of every command; on a command's own parser they default to SUPPRESS, so that one given
    before the command is not overwritten."""
    p.add_argument("--url", default=default, help="the platform's API (FAAS_URL, default http://127.0.0.1:8080)")
    p.add_argument("--token", default=default, help="bearer token (FAAS_TOKEN, FAAS_API_TOKEN, or var/api-token)")
    p.add_argument("--json", action="store_true", default=False if default is None else default,
                   help="JSON output, for scripts")


def _subparsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.append(child)
                found += _subparsers(child)
    return found


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    client = Client(args.url, args.token)
    try:
        return args.func(client, args)
    except PlatformError as exc:
        if args.json:
            print(json.dumps({"error": {"code": exc.code, "message": exc.message, "status": exc.status}}),
                  file=sys.stderr)
        else:
            out.error(f"error: {exc.message}" + (f" ({exc.code})" if exc.code else ""))
            if exc.extra.get("buildLog"):
                print(exc.extra["buildLog"], file=sys.stderr)
        return 2
    except CommandError as exc:
        out.error(f"faasctl: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `faasctl list | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
