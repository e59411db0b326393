"""FC's paging of lists, the same in both surfaces: `limit`, `nextToken`, `prefix` (and FC 2.0's `startKey`)."""

from __future__ import annotations

from aiohttp import web

from ..errors import InvalidArgument

LIST_LIMIT = (1, 100)
LIST_DEFAULT = 20


def limit_of(request: web.Request) -> int:
    raw = request.query.get("limit", str(LIST_DEFAULT))
    if not raw.isascii() or not raw.isdigit() or not LIST_LIMIT[0] <= int(raw) <= LIST_LIMIT[1]:
        raise InvalidArgument(f"limit must be a whole number from {LIST_LIMIT[0]} to {LIST_LIMIT[1]}")
    return int(raw)


def page(names: list[str], request: web.Request) -> tuple[list[str], str | None]:
    """A page of a list of names, sorted: those after `nextToken` (and from `startKey` on) that start with
    `prefix`, `limit` at most, and the token of the next page (None: this is the last)."""
    prefix = request.query.get("prefix", "")
    token = request.query.get("nextToken", "")
    start = request.query.get("startKey", "")
    limit = limit_of(request)
    chosen = [n for n in sorted(names) if n.startswith(prefix) and n > token and n >= start]
    return chosen[:limit], chosen[limit - 1] if len(chosen) > limit else None


def listed(key: str, items: list[dict], token: str | None, **fields: str) -> web.Response:
    """A page of a list in FC's shape: `{key: [...], **fields, "nextToken"}`, the token left out on the last
    page."""
    body: dict = {key: items, **fields}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)
