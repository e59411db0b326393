"""faasctl queue: read, publish to and trim the platform's queues (queue:NAME)."""

from __future__ import annotations

from . import output as out
from .client import Client
from .command import Subparsers, read_event


def cmd_queue_read(client: Client, args) -> int:
    params = {"count": args.count}
    if args.after:
        params["after"] = args.after
    data = client.json("GET", f"/v1/queues/{args.name}/messages", params=params)
    if args.json:
        out.print_json(data)
        return 0
    rows = []
    for m in data["messages"]:
        if "record" in m:  # a destination's record
            ctx = m["record"]["requestContext"]
            rows.append([m["id"], ctx["requestId"], ctx["functionName"], ctx["condition"],
                         ctx["approximateInvokeCount"], ""])
        else:  # a published message
            rows.append([m["id"], "", "", "", "", m["body"][:60]])
    out.table(["ID", "REQUEST", "FUNCTION", "CONDITION", "INVOKES", "BODY"], rows)
    return 0


def cmd_queue_publish(client: Client, args) -> int:
    message = read_event(args)
    data = client.json("POST", f"/v1/queues/{args.name}/messages", ok=(201,), data=message)
    print(data["messageId"]) if not args.json else out.print_json(data)
    return 0


def cmd_queue_delete(client: Client, args) -> int:
    data = client.json("DELETE", f"/v1/queues/{args.name}/messages", params={"through": args.through})
    print(f"deleted {data['deleted']} message(s)") if not args.json else out.print_json(data)
    return 0


def register(sub: Subparsers) -> None:
    q = sub.add_parser("queue", help="destination queues")
    qs = q.add_subparsers(dest="queue_command", required=True)
    qr = qs.add_parser("read", help="read the records of queue:NAME")
    qr.add_argument("name")
    qr.add_argument("--after", help="only messages after this id")
    qr.add_argument("--count", type=int, default=100)
    qr.set_defaults(func=cmd_queue_read)
    qp = qs.add_parser("publish", help="publish one message to queue:NAME (from an argument, --file or stdin)")
    qp.add_argument("name")
    qp.add_argument("event", nargs="?", metavar="MESSAGE")
    qp.add_argument("--file", "-f", help="read the message from a file ('-': standard input)")
    qp.set_defaults(func=cmd_queue_publish)
    qd = qs.add_parser("delete", help="delete the messages of queue:NAME up to --through (but those a trigger "
                                      "has not taken)")
    qd.add_argument("name")
    qd.add_argument("--through", required=True, metavar="ID", help="the last message id to delete")
    qd.set_defaults(func=cmd_queue_delete)
