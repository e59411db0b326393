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

from . import capacity, deploy, functions, invocations, layers, queues, tokens, triggers, versions
from . import output as out
from .client import Client, PlatformError
from .command import CommandError

COMMAND_GROUPS = (deploy, functions, invocations, capacity, versions, layers, queues, triggers, tokens)
"""The modules of the commands, each adding its own with `register(sub)`, in the order `faasctl --help` lists them."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="faasctl", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(p, None)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
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
