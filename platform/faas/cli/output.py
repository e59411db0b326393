"""What faasctl prints: tables and colours on a terminal, tab-separated text when piped, or JSON."""

from __future__ import annotations

import json
import os
import sys

RED, GREEN, DIM, BOLD, RESET = "\033[31m", "\033[32m", "\033[2m", "\033[1m", "\033[0m"


def is_tty(stream=None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"


def color(text: str, code: str, stream=None) -> str:
    if not is_tty(stream) or os.environ.get("NO_COLOR"):
        return text
    return f"{code}{text}{RESET}"


def print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def table(headers: list[str], rows: list[list[object]]) -> None:
    """Aligned columns on a terminal; tab-separated lines (no header) when piped."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    if not is_tty():
        for row in cells:
            print("\t".join(row))
        return
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print(color("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), BOLD))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def fields(data: dict, keys: list[str]) -> None:
    """`key: value` lines (tab-separated when piped)."""
    width = max(len(k) for k in keys)
    for key in keys:
        value = data.get(key)
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        if is_tty():
            print(f"{color(key.ljust(width), DIM)}  {'' if value is None else value}")
        else:
            print(f"{key}\t{'' if value is None else value}")


def error(message: str) -> None:
    print(color(message, RED, sys.stderr), file=sys.stderr)
