"""Clients' requests (their bodies, read within limits, and their qualifier) and answers before any server's
response object is made of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from aiohttp import web
from aiohttp.http import HttpVersion
from multidict import CIMultiDict

from . import defaults
from .errors import PayloadTooLarge
from .qualifiers import check_qualifier

JSON_TYPE = "application/json; charset=utf-8"
"""The Content-Type of the platform's own JSON answers (aiohttp's json_response's)."""


class Answer(NamedTuple):
    """An HTTP answer before any server's response object is made of it: aiohttp's routes make one
    (`response`), the API's front door writes it itself."""

    status: int
    headers: Mapping[str, str]
    """(a CIMultiDict where a name may come more than once: a function's HTTP answer)"""
    body: bytes


def response(answer: Answer) -> web.Response:
    return web.Response(body=answer.body, status=answer.status, headers=CIMultiDict(answer.headers))


def qualifier_of(request: web.Request) -> str:
    """The `qualifier` query parameter (LATEST, a version id or an alias): LATEST when absent."""
    if not request.query_string:
        return defaults.LATEST
    return check_qualifier(request.query.get("qualifier", defaults.LATEST))


class SentRequest(Protocol):
    """What a request's handling reads of it: aiohttp's request has it, and so has the front door's plain one
    (plain.PlainRequest), read whole before it is handled."""

    @property
    def app(self) -> Any: ...
    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def raw_headers(self) -> Iterable[tuple[Any, Any]]: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def version(self) -> HttpVersion: ...
    @property
    def remote(self) -> str | None: ...
    @property
    def host(self) -> str: ...
    @property
    def content_length(self) -> int | None: ...
    async def read(self) -> bytes: ...


async def read_event(request: SentRequest, limit: int, what: str = "the event") -> bytes:
    """The request's body; PayloadTooLarge (naming `what`) past `limit` bytes, declared or counted."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
        return await request.read()
    assert isinstance(request, web.BaseRequest), "only aiohttp's requests come with no length"
    chunks, size = [], 0  # chunked: count as it comes
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class LimitedBody:
    """The request's body as it comes, ending with PayloadTooLarge past `limit` bytes. The client that
    streams it reports that as its own error, so `too_large` says what happened."""

    def __init__(self, request: web.Request, limit: int):
        self.request, self.limit, self.too_large = request, limit, False

    async def chunks(self):
        size = 0
        async for chunk in self.request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self.limit:
                self.too_large = True
                raise PayloadTooLarge(f"the request body is larger than {self.limit} bytes")
            yield chunk
