"""HTTP triggers as pure mappings: a request to FC 3.0's HTTP event, a function's result to an HTTP response,
and which headers pass a web function's proxy. No I/O."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import NamedTuple
from urllib.parse import parse_qsl

from .model import iso_utc

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
"""Headers of one connection (RFC 9110 7.6.1): never forwarded."""

_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_RESULT_KEYS = {"statusCode", "headers", "body", "isBase64Encoded"}
_URL_RESULT_KEYS = _RESULT_KEYS | {"cookies"}
RESPONSE_HEADER_BYTES = 8192
"""Largest single header value a function may set on its HTTP response."""


class InvalidResponse(Exception):
    """The function's result is shaped like an HTTP response but cannot be one."""


PLATFORM_PREFIXES = ("x-fc-", "x-faas-")
"""Headers that speak for the platform: a client's are dropped before a function sees the request."""


@functools.lru_cache(maxsize=1024)
def platform_header(name: str) -> bool:
    """A header of the platform's (x-fc-*, x-faas-*), in any case and with '_' for '-' (servers that map headers
    to CGI-style variables read x_fc_request_id as X-Fc-Request-Id)."""
    return name.lower().replace("_", "-").startswith(PLATFORM_PREFIXES)


@functools.lru_cache(maxsize=1024)
def canonical(name: str) -> str:
    """Header names as FC 3.0 gives them: each dash-separated word capitalised (content-type -> Content-Type)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def client_headers(pairs: Iterable[tuple[str, str]], drop_authorization: bool) -> dict[str, str]:
    """The request's headers for the event: canonical names, repeated values joined with ',', without
    the platform's own (platform_header), hop-by-hop ones, and the platform token when the platform checked it."""
    out: dict[str, str] = {}
    for name, value in pairs:
        lower = name.lower()
        if platform_header(name) or lower in HOP_BY_HOP or (drop_authorization and lower == "authorization"):
            continue
        key = canonical(name)
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def query_parameters(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def split_raw_path(raw: str) -> tuple[str, str]:
    """(rawPath after /function/<name>, as sent, '/' when empty; the raw query string)."""
    path, _, query = raw.partition("?")
    rest = path.split("/", 3)  # '', 'function', name, rest
    return "/" + (rest[3] if len(rest) > 3 else ""), query


class RequestInfo(NamedTuple):
    """What an HTTP event is made of (a tuple: made once per request, on the hot path)."""

    method: str
    raw_path: str
    """The path after the function's name, URL-encoded as sent."""
    path: str
    """The same, decoded."""
    query: str
    headers: Iterable[tuple[str, str]]
    """Read once, as they came (repeated names repeated)."""
    body: bytes
    protocol: str
    source_ip: str
    domain: str
    request_id: str
    now: float


_EVENT = ('{"version":"v1","rawPath":%s,"body":%s,"isBase64Encoded":%s,"headers":%s,"queryParameters":%s,'
          '"requestContext":{"accountId":"","domainName":%s,"domainPrefix":"","http":{"method":%s,"path":%s,'
          '"protocol":%s,"sourceIp":%s,"userAgent":%s},"requestId":%s,"time":"%s","timeEpoch":"%d"}}')
"""FC 3.0's HTTP event, filled with JSON-encoded strings: one template and a C string encoder per field cost
about a third of building the dict and encoding it, on a path that runs once per request."""

_str = encode_basestring_ascii
_dict = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode


def http_event(req: RequestInfo, drop_authorization: bool) -> bytes:
    """FC 3.0's HTTP trigger event for a built-in runtime, as the JSON the function receives."""
    try:
        body, encoded = req.body.decode("utf-8"), "false"
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(req.body).decode(), "true"
    headers = client_headers(req.headers, drop_authorization)
    query = _dict(query_parameters(req.query)) if req.query else "{}"
    return (_EVENT % (_str(req.raw_path), _str(body), encoded, _dict(headers), query, _str(req.domain),
                      _str(req.method), _str(req.path), _str(req.protocol), _str(req.source_ip),
                      _str(headers.get("User-Agent", "")), _str(req.request_id), _iso_second(int(req.now)),
                      int(req.now * 1000))).encode()


@functools.lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    """iso_utc of a whole second, formatted once per second rather than once per request."""
    return iso_utc(second)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _header_pairs(raw: object) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise InvalidResponse("headers must be an object")
    pairs = []
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise InvalidResponse(f"header {name!r} must be a string")
            text = str(item)
            if not _TOKEN_RE.fullmatch(name) or any(c in text for c in "\r\n\0") or \
                    len(text) > RESPONSE_HEADER_BYTES:
                raise InvalidResponse(f"header {name[:64]!r} is not a valid HTTP header")
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue  # the platform frames the response itself
            pairs.append((name, text))
    return pairs


def http_answer(body: bytes, content_type: str, cookies: bool = False) -> HttpAnswer:
    """The HTTP response for a function's successful result: a result shaped {statusCode, headers, body,
    isBase64Encoded} is that response; anything else is a 200 with the result as the body. `cookies`: a Lambda
    function URL's result, which may also have `cookies`, a list of Set-Cookie values."""
    result = None
    if content_type.startswith("application/json"):
        try:
            result = json.loads(body)
        except ValueError:
            result = None
    keys = _URL_RESULT_KEYS if cookies else _RESULT_KEYS
    if not (isinstance(result, dict) and "statusCode" in result and set(result) <= keys):
        return HttpAnswer(200, [("Content-Type", content_type or "application/octet-stream")], body)
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidResponse("statusCode must be a whole number from 100 to 599")
    headers = _header_pairs(result.get("headers"))
    if result.get("cookies") is not None:
        if not isinstance(result["cookies"], list) or not all(isinstance(c, str) for c in result["cookies"]):
            raise InvalidResponse("cookies must be a list of strings")
        headers += _header_pairs({"Set-Cookie": result["cookies"]})
    raw = result.get("body", "")
    encoded = result.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise InvalidResponse("isBase64Encoded must be true or false")
    if raw is None:
        data = b""
    elif encoded:
        if not isinstance(raw, str):
            raise InvalidResponse("a base64 body must be a string")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidResponse("body is not valid base64") from None
    elif isinstance(raw, str):
        data = raw.encode("utf-8")
    else:
        data = json.dumps(raw).encode("utf-8")
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/octet-stream" if encoded else "text/plain; charset=utf-8"))
    return HttpAnswer(status, headers, data)


def proxied_request_headers(pairs: Iterable[tuple[str, str]], drop_authorization: bool) -> list[tuple[str, str]]:
    """A web function's request headers: the client's (Content-Length too: the body is streamed with the
    length it was sent with), without hop-by-hop ones and the platform's own (platform_header: it sets its
    own), and without the platform token when the platform checked it."""
    return [(k, v) for k, v in pairs if k.lower() not in HOP_BY_HOP and not platform_header(k)
            and not (drop_authorization and k.lower() == "authorization")]


def proxied_response_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A web function's response headers, as it sent them, without hop-by-hop ones (aiohttp frames the body)."""
    return [(k, v) for k, v in pairs if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]


ANSWER_BEGUN = "faas.answer_begun"
"""The request key under which an answer whose status line has gone out is kept: an error after that cannot
be told with another status line (see api/middlewares.py), only by breaking the connection."""


async def begin_answer(request, response) -> None:
    """Send `response`'s status line and headers, and remember that they went out."""
    request[ANSWER_BEGUN] = response
    await response.prepare(request)


async def relay(request, response, upstream):
    """Send `response` (its status and headers set) with `upstream`'s body (an aiohttp client response), as it
    comes, to the client of `request`."""
    if upstream.content_length is not None:
        response.content_length = upstream.content_length
    await begin_answer(request, response)
    async for chunk in upstream.content.iter_any():
        await response.write(chunk)
    await response.write_eof()
    return response
