"""Paging of lists: FC's `limit`, `nextToken`, `prefix` (and FC 2.0's `startKey`), the same in both FC surfaces,
and the name-ordered paging under them, which Lambda's `Marker` and `MaxItems` use too."""

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
    return page_after(names, request.query.get("nextToken", ""), limit_of(request), request.query.get("prefix", ""),
                      request.query.get("startKey", ""))


def page_after(names: list[str], after: str, limit: int, prefix: str = "",
               start: str = "") -> tuple[list[str], str | None]:
    """A page of a list of names, sorted: those after `after` (and from `start` on) that start with `prefix`,
    `limit` at most, and the name to page on from (None: this page is the last). Every surface's lists page so."""
    chosen = [n for n in sorted(names) if n.startswith(prefix) and n > after and n >= start]
    return chosen[:limit], chosen[limit - 1] if len(chosen) > limit else None


def listed(key: str, items: list[dict], token: str | None, **fields: str) -> web.Response:
    """A page of a list in FC's shape: `{key: [...], **fields, "nextToken"}`, the token left out on the last
    page."""
    body: dict = {key: items, **fields}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)
