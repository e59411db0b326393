"""faasctl instances, nodes and reserve: where functions run, and how many instances stay ready."""

from __future__ import annotations

from . import output as out
from .client import Client
from .command import Subparsers, qualifier, qualifier_option


def cmd_instances(client: Client, args) -> int:
    data = client.json("GET", f"/v1/functions/{args.name}/instances", params=qualifier(args))
    if args.json:
        out.print_json(data)
        return 0
    out.table(["INSTANCE", "STATE", "VERSION", "REVISION", "RESERVED", "ACTIVE", "INVOCATIONS", "IDLE", "AGE",
               "TRANSPORT"],
              [[i["instanceId"], i["state"], i["versionId"], i["revision"], "yes" if i["reserved"] else "no",
                i["activeInvocations"], i["invocations"], f"{i['idleSeconds']:.0f}s", f"{i['ageSeconds']:.0f}s",
                i.get("transport") or "-"] for i in data["instances"]])
    if data.get("keepAlive"):
        print()
        out.table(["VERSION", "POLICY", "KEEP ALIVE", "PRE-WARM", "SAMPLES", "RULE"] +
                  (["NODE"] if any("node" in d for d in data["keepAlive"]) else []),
                  [[d["versionId"], d["policy"], f"{d['keepAliveSeconds']:.0f}s",
                    f"{d['prewarmSeconds']:.0f}s" if d["prewarmSeconds"] else "-", d["samples"], d["rule"]] +
                   ([d.get("node", "-")] if any("node" in e for e in data["keepAlive"]) else [])
                   for d in data["keepAlive"]])
    return 0


def cmd_nodes(client: Client, args) -> int:
    if args.drain:
        data = client.json("POST", f"/v1/nodes/{args.drain}/drain")
        if args.json:
            out.print_json(data)
        else:
            left = data["inFlight"]
            print(f"{data['node']}: draining; " + (f"{left} invocation(s) still running" if left
                                                   else "no invocation running"))
        return 0
    data = client.json("GET", "/v1/nodes")
    if args.json:
        out.print_json(data)
        return 0
    if data["role"] != "frontend":
        print("this platform runs on one host (FAAS_ROLE=all): it has no nodes")
        return 0
    out.table(["NODE", "ADDRESS", "STATE", "FREE MB", "BUDGET MB", "ACTIVE", "VERSIONS"],
              [[n["nodeId"], n["address"], "draining" if n["draining"] else ("up" if n["takingWork"] else "away"),
                n["freeMB"], n["budgetMB"], n["activeInvocations"], n["functionVersions"]] for n in data["nodes"]])
    return 0


def cmd_reserve(client: Client, args) -> int:
    data = client.json("PUT", f"/v1/functions/{args.name}/provision-config", params=qualifier(args),
                       json={"target": args.count})
    if args.json:
        out.print_json(data)
    else:
        print(f"{args.name}@{data['qualifier']}: {data['target']} reserved instance(s), {data['current']} ready")
    return 0


def register(sub: Subparsers) -> None:
    n = sub.add_parser("instances", help="a function's containers")
    n.add_argument("name")
    qualifier_option(n)
    n.set_defaults(func=cmd_instances)
    nd = sub.add_parser("nodes", help="the nodes a front end routes to (several hosts), or --drain NODE")
    nd.add_argument("--drain", metavar="NODE", help="take no new invocations on NODE; wait for those under way")
    nd.set_defaults(func=cmd_nodes)
    s = sub.add_parser("reserve", help="set the reserved instances of a function (or of a version or alias)")
    s.add_argument("name")
    s.add_argument("count", type=int)
    qualifier_option(s)
    s.set_defaults(func=cmd_reserve)
