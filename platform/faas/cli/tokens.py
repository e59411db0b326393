"""faasctl token and faasctl key: the platform's API tokens and access keys (the same two roles; a secret is
printed once, when it is made)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from . import output as out
from .client import Client
from .command import Subparsers


@dataclass(frozen=True)
class Credential:
    command: str
    what: str
    path: str
    listed: str
    """The list's field in GET's answer."""
    id_field: str
    secret_field: str


TOKEN = Credential("token", "token", "/v1/tokens", "tokens", "id", "token")
KEY = Credential("key", "access key", "/v1/access-keys", "accessKeys", "accessKeyId", "accessKeySecret")


def _run(kind: Credential, client: Client, args) -> int:
    action = getattr(args, f"{kind.command}_command")
    if action == "create":
        data = client.json("POST", kind.path, ok=(201,), json={"role": args.role, "name": args.name})
        if args.json:
            out.print_json(data)
        elif kind is KEY:
            print(f"{data['accessKeyId']} {data['accessKeySecret']}")
            print(f"access key {data['accessKeyId']} ({data['role']}): its secret is shown once, keep it safe",
                  file=sys.stderr)
        else:
            print(data[kind.secret_field])
            print(f"token {data['id']} ({data['role']}): shown once, keep it safe", file=sys.stderr)
    elif action == "list":
        items = client.json("GET", kind.path)[kind.listed]
        if args.json:
            out.print_json(items)
        else:
            out.table(["ID", "ROLE", "NAME", "CREATED"],
                      [[i[kind.id_field], i["role"], i["name"],
                        time.strftime("%Y-%m-%d %H:%M", time.localtime(i["createdAt"]))] for i in items])
    else:
        client.call("DELETE", f"{kind.path}/{args.id}", ok=(204,))
        print(f"revoked {args.id}") if not args.json else out.print_json({"revoked": args.id})
    return 0


def cmd_token(client: Client, args) -> int:
    return _run(TOKEN, client, args)


def cmd_key(client: Client, args) -> int:
    return _run(KEY, client, args)


def _register(sub: Subparsers, kind: Credential, help_: str, func) -> None:
    p = sub.add_parser(kind.command, help=help_)
    ps = p.add_subparsers(dest=f"{kind.command}_command", required=True)
    pc = ps.add_parser("create", help=f"make {'an' if kind is KEY else 'a'} {kind.what} (its secret printed once)")
    pc.add_argument("--role", choices=["admin", "invoke"], required=True)
    pc.add_argument("--name", required=True)
    ps.add_parser("list", help=f"list {kind.what}s (never their secrets)")
    pr = ps.add_parser("revoke", help=f"revoke {'an' if kind is KEY else 'a'} {kind.what}")
    pr.add_argument("id")
    p.set_defaults(func=func)


def register(sub: Subparsers) -> None:
    _register(sub, TOKEN, "API tokens", cmd_token)
    _register(sub, KEY, "access keys, which sign requests to the FC API surfaces", cmd_key)
