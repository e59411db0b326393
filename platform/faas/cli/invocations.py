"""faasctl invoke, logs and wait: run a function, read its logs, follow an asynchronous invocation."""

from __future__ import annotations

import base64
import json
import sys
import time

from . import output as out
from .client import Client, PlatformError
from .command import CommandError, Subparsers, qualifier, qualifier_option, read_event


def _print_function_error(body: bytes, error_kind: str) -> None:
    try:
        error = json.loads(body)
    except ValueError:
        error = {"errorType": error_kind, "errorMessage": body.decode("utf-8", "replace"), "stackTrace": []}
    out.error(f"{error.get('errorType')}: {error.get('errorMessage')}  ({error_kind})")
    for frame in error.get("stackTrace") or []:
        print(frame, file=sys.stderr)


def cmd_invoke(client: Client, args) -> int:
    event = read_event(args)
    if args.async_:
        headers = {"X-Fc-Invocation-Type": "Async"} | ({"X-Fc-Async-Task-Id": args.task_id} if args.task_id else {})
        data = client.json("POST", f"/v1/functions/{args.name}/invocations", ok=(202,), data=event,
                           headers=headers, params=qualifier(args))
        if args.json:
            out.print_json(data)
        else:
            print(data["requestId"])
        return 0
    if args.task_id:
        raise CommandError("--task-id names an async invocation: add --async")
    headers = {"X-Fc-Log-Type": "Tail"} if args.log else {}
    resp = client.call("POST", f"/v1/functions/{args.name}/invocations", data=event, headers=headers,
                       params=qualifier(args))
    error_kind = resp.headers.get("X-Fc-Error-Type")
    log_tail = base64.b64decode(resp.headers.get("X-Fc-Log-Result", "")).decode("utf-8", "replace")
    if args.json:
        body = resp.content.decode("utf-8", "replace")
        out.print_json({"requestId": resp.headers.get("X-Fc-Request-Id"),
                        "coldStart": resp.headers.get("X-Fc-Cold-Start") == "true",
                        "instanceId": resp.headers.get("X-Fc-Instance-Id"), "error": error_kind,
                        "version": resp.headers.get("X-Fc-Function-Version"),
                        "contentType": resp.headers.get("Content-Type"), "body": body}
                       | ({"log": log_tail} if args.log else {}))
        return 1 if error_kind else 0
    if args.log:
        print(out.color(log_tail.rstrip("\n"), out.DIM, sys.stderr), file=sys.stderr)
    if error_kind:
        _print_function_error(resp.content, error_kind)
        return 1
    sys.stdout.buffer.write(resp.content)
    if out.is_tty() and resp.content and not resp.content.endswith(b"\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


def cmd_logs(client: Client, args) -> int:
    if args.request:
        text = client.call("GET", f"/v1/invocations/{args.request}/logs").text
        sys.stdout.write(text)
        return 0
    if not args.name:
        raise CommandError("logs needs a function NAME, or --request ID")
    params = {"tail": args.tail} | qualifier(args)
    if not args.follow:
        sys.stdout.write(client.call("GET", f"/v1/functions/{args.name}/logs", params=params).text)
        return 0
    params["follow"] = "1"
    while True:  # the server ends a follow after an hour: ask again
        resp = client.call("GET", f"/v1/functions/{args.name}/logs", params=params, stream=True, timeout=(5, None))
        for chunk in resp.iter_content(chunk_size=None):
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
        params["tail"] = 0


def cmd_wait(client: Client, args) -> int:
    deadline = time.monotonic() + args.timeout
    while True:
        data = client.json("GET", f"/v1/invocations/{args.request_id}")
        if data["status"] in ("succeeded", "failed", "stopped"):
            break
        if time.monotonic() > deadline:
            raise PlatformError(None, "Timeout", f"{args.request_id} is still {data['status']} after {args.timeout}s")
        time.sleep(0.5)
    if args.json:
        out.print_json(data)
        return 0 if data["status"] == "succeeded" else 1
    if data["status"] == "succeeded":
        print(data.get("result") or "")
        return 0
    if data["status"] == "stopped":
        out.error(f"stopped after {data['attempts']} attempt(s)")
        return 1
    error = data.get("lastError") or {}
    out.error(f"failed ({data.get('condition')}) after {data['attempts']} attempt(s): "
              f"{error.get('errorType')}: {error.get('errorMessage')}")
    for frame in error.get("stackTrace") or []:
        print(frame, file=sys.stderr)
    return 1


def cmd_stop(client: Client, args) -> int:
    data = client.json("POST", f"/v1/invocations/{args.request_id}/stop")
    if args.json:
        out.print_json(data)
    else:
        print(data["status"])
    return 0


def register(sub: Subparsers) -> None:
    i = sub.add_parser("invoke", help="invoke a function (event from an argument, --file or standard input)")
    i.add_argument("name")
    i.add_argument("event", nargs="?")
    i.add_argument("--file", "-f", help="read the event from a file ('-': standard input)")
    i.add_argument("--async", dest="async_", action="store_true", help="invoke asynchronously: print the request id")
    i.add_argument("--log", action="store_true", help="print the invocation's log tail (4 KB) to standard error")
    i.add_argument("--task-id", metavar="ID", help="with --async: the invocation's id, accepted once (so that trying "
                   "again after a lost answer cannot run it twice)")
    qualifier_option(i)
    i.set_defaults(func=cmd_invoke)
    lg = sub.add_parser("logs", help="a function's recent log lines (--follow to stream), or an invocation's")
    lg.add_argument("name", nargs="?")
    lg.add_argument("--request", metavar="ID", help="the log of one invocation")
    lg.add_argument("--tail", type=int, default=100, help="how many recent lines (default 100)")
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    lg.add_argument("--qualifier", "-q", help="only lines of the versions it runs: a version id or an alias")
    lg.set_defaults(func=cmd_logs)
    w = sub.add_parser("wait", help="follow an async invocation to its end and print its result")
    w.add_argument("request_id")
    w.add_argument("--timeout", type=float, default=600)
    w.set_defaults(func=cmd_wait)
    st = sub.add_parser("stop", help="stop an async invocation: it is not run again and goes to no destination")
    st.add_argument("request_id")
    st.set_defaults(func=cmd_stop)
