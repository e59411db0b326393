"""FC 2.0's signature (aliyun-fc2's `Auth.sign_request`), from the server's side.

    Authorization: FC <AccessKeyId>:<base64 HMAC-SHA256>

The string to sign is `METHOD\\ncontent-md5\\ncontent-type\\ndate\\n`, then every `x-fc-*` header as sorted
`name:value\\n` lines, then the resource: the path, URL-decoded. The query is not signed for API calls; for
HTTP-trigger calls (`/2016-08-15/proxy/...`) it is, as the sorted decoded `k=v` lines after a newline (a newline
even when there is no query). The body is not signed: a Content-MD5, when sent, must match it.

Beyond the algorithm: the Date header is within MAX_SKEW_S, and no x-fc-* or signed header comes twice.
FC 2.0 has no nonce, so a request can be replayed within that window, as on Function Compute itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, unquote_plus

from . import MAX_HEADER_BYTES, MAX_SKEW_S, Claim, Request, SignatureError, hmac_sha256, printable, require_match

BODY_FIRST = False
"""The body is not signed (a Content-MD5 is checked against it once the signature is good)."""
PROXY_PREFIX = "/2016-08-15/proxy/"
"""HTTP-trigger calls, whose query is signed too."""

_AUTH = re.compile(r"FC ([A-Za-z0-9._-]{1,128}):([A-Za-z0-9+/]{43}=)")


def read(request: Request, now: datetime) -> Claim:
    """The key the request claims, once its form and date are right (SignatureError otherwise)."""
    header = request.one("authorization")
    if header is None:
        raise SignatureError("the request is not signed (no Authorization header)")
    match = _AUTH.fullmatch(header) if len(header) <= MAX_HEADER_BYTES else None
    if match is None:
        raise SignatureError("the Authorization header must be 'FC <AccessKeyId>:<base64 signature>'")
    date = request.one("date")
    try:
        when = parsedate_to_datetime(date or "")
    except (TypeError, ValueError):
        raise SignatureError("the Date header must be an HTTP date (RFC 7231)") from None
    if when.tzinfo is None or abs((now - when).total_seconds()) > MAX_SKEW_S:
        raise SignatureError(f"the Date header is more than {MAX_SKEW_S // 60} minutes from the platform's clock")
    return Claim(match.group(1), match.group(2), when)


def check_body(request: Request, body: bytes) -> None:
    """SignatureError when a Content-MD5 was sent (and signed) that is not the body's."""
    md5 = request.one("content-md5")
    if md5 is None:
        return
    try:
        given = base64.b64decode(md5, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Content-MD5 must be the base64 MD5 of the body") from None
    if not hmac.compare_digest(given, hashlib.md5(body).digest()):
        raise SignatureError("Content-MD5 is not the MD5 of the body")


def check(request: Request, claim: Claim, secret: str) -> None:
    """SignatureError unless `secret` signed the request as `claim` says."""
    require_match(sign(string_to_sign(request), secret), claim)


def string_to_sign(request: Request) -> str:
    fc_headers = sorted(name for name in request.names if name.startswith("x-fc-"))
    lines = "".join(f"{name}:{request.one(name)}\n" for name in fc_headers)
    for value in (request.one("content-type"), request.one("date"), request.one("content-md5"), lines):
        if value is not None and not printable(value.replace("\n", ""), MAX_HEADER_BYTES * 4):
            raise SignatureError("a signed header holds control characters")
    try:
        resource = unquote(request.raw_path, errors="strict")
        if resource.startswith(PROXY_PREFIX):
            params = sorted(f"{unquote_plus(k, errors='strict')}={unquote_plus(v, errors='strict')}"
                            for k, _, v in (item.partition("=") for item in request.raw_query.split("&") if item))
            resource += "\n" + "\n".join(params)
    except UnicodeDecodeError:
        raise SignatureError("the path or query is not UTF-8 once decoded") from None
    return "\n".join((request.method.upper(), request.one("content-md5") or "", request.one("content-type") or "",
                      request.one("date") or "", lines + resource))


def sign(to_sign: str, secret: str) -> str:
    """The signature of a string to sign under `secret` (base64)."""
    return base64.b64encode(hmac_sha256(secret, to_sign)).decode()
