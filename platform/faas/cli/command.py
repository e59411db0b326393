"""What faasctl's command modules share: the error of a bad command line, and the inputs several commands take."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeAlias

from . import output as out

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""Where a command module's `register` adds its commands."""

QUALIFIER_HELP = "LATEST (default), a version id or an alias"


class CommandError(Exception):
    """A mistake on the command line or in the spec file: exit 2."""


def qualifier_option(p: argparse.ArgumentParser) -> None:
    """--qualifier/-q of the commands that act on one version of a function."""
    p.add_argument("--qualifier", "-q", help=QUALIFIER_HELP)


def qualifier(args) -> dict:
    """The `qualifier` query parameter of --qualifier (none: LATEST)."""
    return {"qualifier": args.qualifier} if getattr(args, "qualifier", None) else {}


def read_event(args) -> bytes:
    """An invocation's event or a queue's message: the argument, --file, or standard input when piped."""
    if args.file:
        return sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    if args.event is not None:
        return args.event.encode()
    if not sys.stdin.isatty():
        return sys.stdin.buffer.read()
    return b""


def print_deleted(args, kind: str, ident: str) -> None:
    print(f"deleted {kind} {ident}") if not args.json else out.print_json({"deleted": ident})
