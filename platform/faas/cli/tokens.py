"""faasctl token: the platform's API tokens."""

from __future__ import annotations

import sys
import time

from . import output as out
from .client import Client
from .command import Subparsers


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


def register(sub: Subparsers) -> None:
    t = sub.add_parser("token", help="API tokens")
    ts = t.add_subparsers(dest="token_command", required=True)
    tc = ts.add_parser("create", help="make a token (printed once)")
    tc.add_argument("--role", choices=["admin", "invoke"], required=True)
    tc.add_argument("--name", required=True)
    ts.add_parser("list", help="list tokens")
    tr = ts.add_parser("revoke", help="revoke a token")
    tr.add_argument("id")
    t.set_defaults(func=cmd_token)
