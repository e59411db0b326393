"""faasctl list, get, delete and runtimes: the functions of the platform, and the runtimes they may name."""

from __future__ import annotations

import sys
import time

from . import output as out
from .client import Client
from .command import Subparsers


def cmd_list(client: Client, args) -> int:
    functions = client.json("GET", "/v1/functions")["functions"]
    if args.json:
        out.print_json(functions)
        return 0
    out.table(["NAME", "RUNTIME", "REVISION", "MEMORY", "TIMEOUT", "RESERVED", "STATE", "UPDATED"],
              [[f["name"], f["runtime"], f["revision"], f["memoryMB"], f["timeoutSeconds"], f["reservedInstances"],
                f["state"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(f["updatedAt"]))] for f in functions])
    return 0


def cmd_get(client: Client, args) -> int:
    fn = client.json("GET", f"/v1/functions/{args.name}")
    if args.json:
        out.print_json(fn)
        return 0
    out.fields(fn, ["name", "state", "revision", "runtime", "handler", "initializer", "memoryMB", "timeoutSeconds",
                    "instanceConcurrency", "maxInstances", "reservedInstances", "keepAliveSeconds",
                    "keepAlivePolicy", "pauseAfterSeconds", "environment", "async", "image", "codeSha256"])
    build = fn.get("lastBuild") or {}
    out.fields({"lastBuild": f"{build.get('status')} in {build.get('durationMs', 0) / 1000:.1f}s"}, ["lastBuild"])
    return 0


def cmd_delete(client: Client, args) -> int:
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Delete function {args.name}, its containers and images? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted", file=sys.stderr)
            return 2
    client.call("DELETE", f"/v1/functions/{args.name}", ok=(204,))
    if args.json:
        out.print_json({"deleted": args.name})
    else:
        print(f"{out.color('deleted', out.GREEN)} {args.name}")
    return 0


def cmd_runtimes(client: Client, args) -> int:
    runtimes = client.json("GET", "/v1/runtimes")["runtimes"]
    if args.json:
        out.print_json(runtimes)
        return 0
    out.table(["NAME", "KIND", "PYTHON", "TAKES"],
              [[r["name"], r["kind"], r.get("pythonVersion") or "-",
                ", ".join(r.get("handlerTypes") or r.get("protocols") or [])] for r in runtimes])
    return 0


def register(sub: Subparsers) -> None:
    sub.add_parser("list", help="list functions").set_defaults(func=cmd_list)
    g = sub.add_parser("get", help="describe a function")
    g.add_argument("name")
    g.set_defaults(func=cmd_get)
    r = sub.add_parser("delete", help="delete a function, its containers and images")
    r.add_argument("name")
    r.add_argument("--yes", "-y", action="store_true", help="do not ask")
    r.set_defaults(func=cmd_delete)
    sub.add_parser("runtimes", help="the runtimes a function's spec may name").set_defaults(func=cmd_runtimes)
