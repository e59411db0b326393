"""AWS Signature Version 4 (`AWS4-HMAC-SHA256`, botocore's `SigV4Auth`) for the Lambda API, from the server's side.

    Authorization: AWS4-HMAC-SHA256 Credential=<AccessKeyId>/<yyyymmdd>/<region>/lambda/aws4_request,
                   SignedHeaders=<h1;h2;...>, Signature=<hex>

The canonical request is the method; the path as sent (still percent-encoded) quoted once more with
`quote(path, safe='/~')` (so a `name:qualifier` that arrives as `name%3Aqualifier` is signed as
`name%253Aqualifier`); the query's pairs, each part decoded and quoted again with `safe='-_.~'`, sorted; each
header named in SignedHeaders as `name:value` with its runs of white space made one space (a repeated header's
values joined with ','); a blank line; the SignedHeaders list; and the body's SHA-256 (hex), which botocore signs
without sending it as a header. The string to sign is the algorithm, X-Amz-Date, the credential scope and the
hex SHA-256 of the canonical request; the key is HMAC-SHA256 chained from `AWS4<secret>` over the scope's date,
region, service and `aws4_request`.

Beyond the algorithm, the platform asks: the host and X-Amz-Date are signed, and so is every content-type and
x-amz-* header the request carries; no signed header comes twice; the scope's service is `lambda`, its date
X-Amz-Date's, any region; the date is within MAX_SKEW_S; the path has no `.` or `..` segment and no empty one but
a trailing slash (botocore signs a path with those removed: what is routed must be what was signed). SigV4 has no
nonce: as on AWS, a request can be replayed within the date's window. The body is signed inside the signature, so
it is read (within the request limit) before `check`, which takes its digest.
"""

from __future__ import annotations

import functools
import hmac
import re
from datetime import datetime
from hashlib import sha256
from urllib.parse import quote, unquote

from . import (
    BLANKS,
    MAX_HEADER_BYTES,
    Claim,
    Request,
    SignatureError,
    authorization_fields,
    coverage,
    dated,
    header_lines,
    printable,
    require_match,
    signed_header_list,
    split_signature,
)

try:
    from _hashlib import hmac_digest as _hmac_digest  # (what hmac.digest calls, without its Python layer)
except ImportError:  # a CPython built without OpenSSL
    _hmac_digest = hmac.digest  # type: ignore[assignment]  # (the same call, typed more loosely)

ALGORITHM = "AWS4-HMAC-SHA256"
BODY_FIRST = True
"""The body is inside the signature: read it (within the request limit) and set Request.body_sha256 before check."""
SERVICE = "lambda"
TERMINATOR = "aws4_request"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
REQUIRED = ("host", "x-amz-date")
"""Headers every signature must cover."""

_KEY_ID = r"[A-Za-z0-9._-]{1,128}"
_CREDENTIAL = re.compile(rf"({_KEY_ID})/(\d{{8}})/([a-z0-9-]{{1,32}})/([a-z0-9-]{{1,32}})/({TERMINATOR})")
_SIGNATURE = _SHA256 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
_MUST_SIGN = ("content-type", "x-amz-")
"""Headers (by the start of their name) that must be signed when sent (x-amzn-trace-id is not: botocore never
signs it)."""
_UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-")
_UNPRINTABLE = "the Authorization header is too long or holds control characters"


def read(request: Request, now: datetime) -> Claim:
    """The key and scope the request claims, once its form and date are right (SignatureError otherwise): what
    the head shows without the secret."""
    header = request.one("authorization")
    if header is None:
        raise SignatureError("the request is not signed (no Authorization header)")
    if len(header) > MAX_HEADER_BYTES:
        raise SignatureError(_UNPRINTABLE)
    form, signature = split_signature(header)  # (the form is read once per client and day: _form)
    if not _SIGNATURE.fullmatch(signature):
        if not printable(header, MAX_HEADER_BYTES):
            raise SignatureError(_UNPRINTABLE)
        _form(form)  # a malformed header says how first
        raise SignatureError("the Signature must be 64 lower-case hex digits")
    key_id, scope_date, scope, signed, signed_set = _form(form)
    problem = coverage(request.names, request.repeated, signed_set, _MUST_SIGN)
    if problem:
        raise SignatureError(problem)
    headers = request.headers  # (every x-amz-* header is signed, and no signed one is repeated: coverage)
    amz_date = headers.get("x-amz-date", "")
    signed_at = dated(amz_date, now, _DATE, "X-Amz-Date", DATE_FORMAT)
    if amz_date[:8] != scope_date:
        raise SignatureError("the credential scope's date is not X-Amz-Date's")
    content_sha256 = headers.get("x-amz-content-sha256")
    if content_sha256 is not None and not _SHA256.fullmatch(content_sha256):
        if content_sha256.startswith(_UNSIGNED_PAYLOADS):
            raise SignatureError("the body must be signed (X-Amz-Content-SHA256 cannot be UNSIGNED-PAYLOAD here)")
        raise SignatureError("X-Amz-Content-SHA256 must be 64 lower-case hex digits")
    _canonical_path(request.raw_path)  # (its segments are checked with it)
    return Claim(key_id, signature, signed_at, None, signed, scope)


def check(request: Request, claim: Claim, secret: str) -> None:
    """SignatureError unless `secret` signed the request as `claim` says, over the body whose SHA-256 (hex) the
    caller put in `request.body_sha256`."""
    body_sha256 = request.body_sha256
    if body_sha256 is None:
        raise SignatureError("the body was not read before its signature was checked")
    headers = request.headers  # (read() refused a repeated x-amz-* header: each is signed)
    if not hmac.compare_digest(headers.get("x-amz-content-sha256") or body_sha256, body_sha256):
        raise SignatureError("X-Amz-Content-SHA256 is not the SHA-256 of the body")
    canonical = canonical_request(request, claim.signed_headers, body_sha256)
    require_match(sign(canonical, headers["x-amz-date"], claim.scope, secret), claim)


def canonical_request(request: Request, signed_headers: tuple[str, ...], body_sha256: str) -> str:
    """Each signed header's value with its runs of white space made one space, as botocore makes it
    (`' '.join(value.split())`, from C: no Python step per header; `read` refused a signed header that is
    repeated)."""
    lines, listed = header_lines(signed_headers)
    lines = lines.format(*map(" ".join, map(str.split, map(request.headers.get, signed_headers, BLANKS))))
    query = canonical_query(request.raw_query) if request.raw_query else ""
    return f"{request.method.upper()}\n{_canonical_path(request.raw_path)}\n{query}\n{lines}\n{listed}\n{body_sha256}"


@functools.lru_cache(maxsize=1024)
def _canonical_path(raw_path: str) -> str:
    """The path as botocore signs it (quoted once more), once its segments are checked: no `.` or `..`, no empty one
    but a trailing slash (botocore signs a path with those removed: what is routed must be what was signed). A
    client calls the same paths again and again."""
    segments = raw_path.split("/")[1:]
    for i, segment in enumerate(segments):
        if segment in (".", "..") or (not segment and i < len(segments) - 1):  # (a trailing slash is a segment's end)
            raise SignatureError("the path must have no empty, '.' or '..' segment")
    return quote(raw_path or "/", safe="/~")


def canonical_query(raw_query: str) -> str:
    """The query as botocore signs it: each name and value decoded and quoted with `safe='-_.~'`, the pairs sorted
    (by name, then value)."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        try:
            pairs.append((quote(unquote(name, errors="strict"), safe="-_.~"),
                          quote(unquote(value, errors="strict"), safe="-_.~")))
        except UnicodeDecodeError:
            raise SignatureError("the query is not UTF-8 once decoded") from None
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def sign(canonical: str, amz_date: str, scope: str, secret: str) -> str:
    """The signature of a canonical request made at `amz_date` in `scope` under `secret` (hex), as botocore makes
    it: what `check` compares with the request's."""
    to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{sha256(canonical.encode()).hexdigest()}"
    return _hmac_digest(_signing_key(secret, scope), to_sign.encode(), "sha256").hex()


@functools.lru_cache(maxsize=1024)
def _form(header: str) -> tuple[str, str, str, tuple[str, ...], frozenset[str]]:
    """An Authorization header without its signature's value, checked: the key id, the scope's date, the scope,
    the signed headers (as listed, and as a set). (A client's headers differ only by their signature, and by their
    scope once a day.)"""
    fields = authorization_fields(header, ALGORITHM, _UNPRINTABLE, spaced=True)
    credential = _CREDENTIAL.fullmatch(fields["Credential"])
    if credential is None:
        raise SignatureError("the Credential must be <AccessKeyId>/<yyyymmdd>/<region>/lambda/aws4_request")
    key_id, scope_date, _, service, _ = credential.groups()
    if service != SERVICE:
        raise SignatureError(f"the credential scope's service must be {SERVICE}")
    signed = signed_header_list(fields["SignedHeaders"], REQUIRED)
    return key_id, scope_date, fields["Credential"].partition("/")[2], signed, frozenset(signed)


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, scope: str) -> bytes:
    """The key of a secret in a scope (date/region/service/aws4_request): the same for a client all day."""
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


