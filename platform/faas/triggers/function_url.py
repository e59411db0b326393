"""A Lambda-shaped function's HTTP event: the event of Lambda's function URLs (payload format 2.0), which is what an
HTTP trigger gives a function with handlerType lambda. Its result is read as a function URL reads one (see
http.http_answer, with `cookies`). No I/O."""

from __future__ import annotations

import base64
import functools
import json
import time

from .http import HOP_BY_HOP, RequestInfo, platform_header, query_parameters

ANONYMOUS = "anonymous"
"""requestContext.accountId of a URL whose AuthType is NONE, as Lambda gives it."""


def _headers(pairs, drop_authorization: bool) -> tuple[dict[str, str], list[str]]:
    """The request's headers, lower-case, repeated values joined with ','; its cookies apart (Cookie is not a
    header of the event)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        lower = name.lower()
        if platform_header(name) or lower in HOP_BY_HOP or (drop_authorization and lower == "authorization"):
            continue
        if lower == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    return headers, cookies


@functools.lru_cache(maxsize=4)
def _clf_second(second: int) -> str:
    """requestContext.time: 04/Dec/2026:19:42:58 +0000 (formatted once per second)."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))


def url_event(req: RequestInfo, drop_authorization: bool, url_id: str) -> bytes:
    """Lambda's function URL event for the request, as the JSON the function receives; `url_id` the function's
    part of the URL (requestContext.apiId and domainPrefix)."""
    headers, cookies = _headers(req.headers, drop_authorization)
    event: dict = {"version": "2.0", "routeKey": "$default", "rawPath": req.raw_path, "rawQueryString": req.query,
                   "headers": headers}
    if cookies:
        event["cookies"] = cookies
    if req.query:
        event["queryStringParameters"] = query_parameters(req.query)
    event["requestContext"] = {
        "accountId": ANONYMOUS, "apiId": url_id, "domainName": req.domain, "domainPrefix": url_id,
        "http": {"method": req.method, "path": req.path, "protocol": req.protocol, "sourceIp": req.source_ip,
                 "userAgent": headers.get("user-agent", "")},
        "requestId": req.request_id, "routeKey": "$default", "stage": "$default",
        "time": _clf_second(int(req.now)), "timeEpoch": int(req.now * 1000)}
    if req.body:
        try:
            event["body"], event["isBase64Encoded"] = req.body.decode("utf-8"), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(req.body).decode(), True
    else:
        event["isBase64Encoded"] = False
    return json.dumps(event, separators=(",", ":")).encode()
