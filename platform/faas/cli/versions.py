"""faasctl publish, versions, alias and rollback: a function's immutable versions and the aliases that name them."""

from __future__ import annotations

import time

from . import output as out
from .client import Client, PlatformError
from .command import CommandError, Subparsers, print_deleted


def cmd_publish(client: Client, args) -> int:
    body = {"description": args.description} if args.description else {}
    version = client.json("POST", f"/v1/functions/{args.name}/versions", ok=(201,), json=body)
    if args.json:
        out.print_json(version)
    else:
        print(f"{out.color('published', out.GREEN)} {args.name}: version {version['versionId']} "
              f"(revision {version['revision']})")
    return 0


def cmd_versions(client: Client, args) -> int:
    base = f"/v1/functions/{args.name}/versions"
    if args.delete:
        client.call("DELETE", f"{base}/{args.delete}", ok=(204,))
        print_deleted(args, "version", args.delete)
        return 0
    versions: list[dict] = []
    params: dict[str, str] = {}
    while True:
        page = client.json("GET", base, params=params)
        versions += page["versions"]
        if not page["nextToken"]:
            break
        params = {"nextToken": page["nextToken"]}
    if args.json:
        out.print_json(versions)
        return 0
    out.table(["VERSION", "REVISION", "PUBLISHED", "CODE", "DESCRIPTION"],
              [[v["versionId"], v["revision"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v["createdAt"])),
                (v["codeSha256"] or "-")[:12], v["description"]] for v in versions])
    return 0


def _weights(pairs: list[str] | None) -> dict | None:
    """--weight V=0.1 (at most one): additionalVersionWeight."""
    if not pairs:
        return None
    weights = {}
    for pair in pairs:
        version, sep, weight = pair.partition("=")
        try:
            if not sep:
                raise ValueError(pair)
            weights[version] = float(weight)
        except ValueError:
            raise CommandError(f"--weight takes VERSION=WEIGHT (such as 3=0.1), not {pair!r}") from None
    return weights


def _alias_line(a: dict) -> str:
    extra = "".join(f", {w:g} to version {v}" for v, w in (a.get("additionalVersionWeight") or {}).items())
    return f"{a['aliasName']} -> version {a['versionId']}{extra}"


def cmd_alias(client: Client, args) -> int:
    base = f"/v1/functions/{args.name}/aliases"
    command = args.alias_command
    if command == "list":
        aliases = client.json("GET", base)["aliases"]
        if args.json:
            out.print_json(aliases)
        else:
            out.table(["ALIAS", "VERSION", "ADDITIONAL", "PREVIOUS", "DESCRIPTION"],
                      [[a["aliasName"], a["versionId"],
                        ", ".join(f"{v}={w:g}" for v, w in a["additionalVersionWeight"].items()) or "-",
                        a.get("previousVersionId") or "-", a["description"]] for a in aliases])
        return 0
    if command == "delete":
        client.call("DELETE", f"{base}/{args.alias}", ok=(204,))
        print_deleted(args, "alias", args.alias)
        return 0
    if command == "get":
        alias = client.json("GET", f"{base}/{args.alias}")
    else:  # set: update it, or create it when it does not exist
        body = {"versionId": args.version, "additionalVersionWeight": _weights(args.weight) or {}}
        if args.description is not None:
            body["description"] = args.description
        try:
            alias = client.json("PUT", f"{base}/{args.alias}", json=body)
        except PlatformError as exc:
            if exc.code != "AliasNotFound":
                raise
            alias = client.json("POST", base, ok=(201,), json=body | {"aliasName": args.alias})
    print(_alias_line(alias)) if not args.json else out.print_json(alias)
    return 0


def cmd_rollback(client: Client, args) -> int:
    base = f"/v1/functions/{args.name}/aliases/{args.alias}"
    alias = client.json("GET", base)
    previous = alias.get("previousVersionId")
    if not previous:
        raise CommandError(f"alias {args.alias} has not moved yet: there is no version to roll back to")
    alias = client.json("PUT", base, json={"versionId": previous, "additionalVersionWeight": {}})
    print(f"{out.color('rolled back', out.GREEN)} {args.name}: {_alias_line(alias)}") if not args.json \
        else out.print_json(alias)
    return 0


def register(sub: Subparsers) -> None:
    pb = sub.add_parser("publish", help="publish LATEST as a new immutable version")
    pb.add_argument("name")
    pb.add_argument("--description")
    pb.set_defaults(func=cmd_publish)
    vs = sub.add_parser("versions", help="a function's published versions, newest first")
    vs.add_argument("name")
    vs.add_argument("--delete", metavar="VERSION", help="delete this version instead")
    vs.set_defaults(func=cmd_versions)
    al = sub.add_parser("alias", help="aliases: names of versions, with an optional weighted second version")
    als = al.add_subparsers(dest="alias_command", required=True)
    ax = als.add_parser("set", help="point ALIAS at VERSION (created if missing)")
    ax.add_argument("name")
    ax.add_argument("alias")
    ax.add_argument("version")
    ax.add_argument("--weight", action="append", metavar="VERSION=WEIGHT",
                    help="send this share (0-1) of the traffic to another version, such as 3=0.1")
    ax.add_argument("--description")
    ax = als.add_parser("list", help="list a function's aliases")
    ax.add_argument("name")
    for verb, text in (("get", "describe an alias"), ("delete", "delete an alias")):
        ax = als.add_parser(verb, help=text)
        ax.add_argument("name")
        ax.add_argument("alias")
    al.set_defaults(func=cmd_alias)
    rb = sub.add_parser("rollback", help="move an alias back to the version it named before its last move")
    rb.add_argument("name")
    rb.add_argument("alias")
    rb.set_defaults(func=cmd_rollback)
