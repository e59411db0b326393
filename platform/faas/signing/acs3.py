"""FC 3.0's `ACS3-HMAC-SHA256` (alibabacloud-tea-openapi's `get_authorization`), from the server's side.

    Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2;...>,Signature=<hex>

The canonical request is the method, the path exactly as sent (still percent-encoded), the query (decoded,
sorted by name, each value quoted again with `quote(v, safe='~')`), each header named in SignedHeaders as
`name:value` (stripped), a blank line, the SignedHeaders list and `x-acs-content-sha256`. The string to sign
is the algorithm and the hex SHA-256 of that; the signature is the hex HMAC-SHA256 of it under the secret.

Beyond the algorithm, the platform asks: the date, the nonce, the body's hash and the host are signed;
every content-type, x-acs-* and x-fc-* header the request carries is signed (nothing that changes what
the call does can be added unsigned); no signed header and no query parameter comes twice; the body's
SHA-256 is the one signed; the date is within MAX_SKEW_S.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from datetime import datetime
from urllib.parse import quote, unquote_plus

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
    hmac_sha256,
    printable,
    require_match,
    signed_header_list,
    split_signature,
)

ALGORITHM = "ACS3-HMAC-SHA256"
BODY_FIRST = False
"""The head carries the body's digest: the body is read once the signature is good (check_body)."""
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
REQUIRED = ("host", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce")
"""Headers every signature must cover."""

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SIGNATURE = _SHA256 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z")
_NONCE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MUST_SIGN = ("content-type", "x-acs-", "x-fc-")
"""Headers (by the start of their name) that must be signed when sent."""
_UNPRINTABLE = "the Authorization header is too long or holds control characters"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def read(request: Request, now: datetime) -> Claim:
    """The key and nonce the request claims, once its form and date are right (SignatureError otherwise): what
    the head shows without the secret (the body is checked last, by check_body)."""
    header = request.one("authorization")
    if header is None:
        raise SignatureError("the request is not signed (no Authorization header)")
    if len(header) > MAX_HEADER_BYTES:
        raise SignatureError(_UNPRINTABLE)
    form, signature = split_signature(header)  # (the form is read once per client: _form)
    if not _SIGNATURE.fullmatch(signature):
        if not printable(header, MAX_HEADER_BYTES):
            raise SignatureError(_UNPRINTABLE)
        _form(form)  # a malformed header says how first
        raise SignatureError("the Signature must be 64 lower-case hex digits")
    key_id, signed, signed_set = _form(form)
    problem = coverage(request.names, request.repeated, signed_set, _MUST_SIGN)
    if problem:
        raise SignatureError(problem)
    headers = request.headers
    signed_at = dated(headers["x-acs-date"], now, _DATE, "x-acs-date", DATE_FORMAT)
    nonce = headers["x-acs-signature-nonce"]
    if not _NONCE.fullmatch(nonce):
        raise SignatureError("x-acs-signature-nonce must be 1-64 letters, digits, '.', '_' or '-'")
    if not _SHA256.fullmatch(headers["x-acs-content-sha256"]):
        raise SignatureError("x-acs-content-sha256 must be 64 lower-case hex digits")
    return Claim(key_id, signature, signed_at, nonce, signed)


def check(request: Request, claim: Claim, secret: str) -> None:
    """SignatureError unless `secret` signed the request as `claim` says."""
    require_match(sign(canonical_request(request, claim.signed_headers), secret), claim)


def check_body(request: Request, body: bytes) -> None:
    """SignatureError unless `body` is the one whose SHA-256 the (signed) x-acs-content-sha256 gives."""
    digest = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    if not hmac.compare_digest(request.one("x-acs-content-sha256") or "", digest):
        raise SignatureError("x-acs-content-sha256 is not the SHA-256 of the body")


def canonical_request(request: Request, signed_headers: tuple[str, ...]) -> str:
    headers = request.headers
    lines, listed = header_lines(signed_headers)
    # (each signed header's value, stripped, from C: no Python step per header)
    lines = lines.format(*map(str.strip, map(headers.get, signed_headers, BLANKS)))
    query = canonical_query(request.raw_query) if request.raw_query else ""
    return (f"{request.method.upper()}\n{request.raw_path or '/'}\n{query}\n{lines}\n{listed}\n"
            f"{headers.get('x-acs-content-sha256', '')}")


def canonical_query(raw_query: str) -> str:
    """The query as the SDK signs it: decoded, sorted by name, each value quoted with `quote(v, safe='~')`."""
    pairs: dict[str, str] = {}
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        try:
            name, value = unquote_plus(name, errors="strict"), unquote_plus(value, errors="strict")
        except UnicodeDecodeError:
            raise SignatureError("the query is not UTF-8 once decoded") from None
        if name in pairs:
            raise SignatureError(f"the query parameter {name} is repeated")
        pairs[name] = value
    return "&".join(f"{name}={quote(pairs[name], safe='~')}" for name in sorted(pairs))


def sign(canonical: str, secret: str) -> str:
    """The signature of a canonical request under `secret` (hex)."""
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac_sha256(secret, to_sign).hex()


@functools.lru_cache(maxsize=1024)
def _form(header: str) -> tuple[str, tuple[str, ...], frozenset[str]]:
    """An Authorization header without its signature's value, checked: the key id, the signed headers (as
    listed, and as a set)."""
    fields = authorization_fields(header, ALGORITHM, _UNPRINTABLE, spaced=False)
    if not _KEY_ID.fullmatch(fields["Credential"]):
        raise SignatureError("the Credential is not an access key id")
    signed = signed_header_list(fields["SignedHeaders"], REQUIRED)
    return fields["Credential"], signed, frozenset(signed)
