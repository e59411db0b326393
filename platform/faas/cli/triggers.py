"""faasctl trigger: a function's http, timer and queue triggers."""

from __future__ import annotations

import json

from . import output as out
from .client import Client
from .command import QUALIFIER_HELP, CommandError, Subparsers, print_deleted


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


def register(sub: Subparsers) -> None:
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
