"""Signed requests: Function Compute's two signatures, verified without I/O (the caller looks up the secret
and remembers nonces).

A signature proves that whoever holds an access key's secret made this request: the method, the path, the
query, the headers it names (and for FC 3.0 the body) as they arrived. Verifiers here are pure functions of
the request and the secret, so that fixed vectors computed with the SDKs' own signers test them. Each scheme
reads the claim (`read`), checks it with the secret (`check`), both from the head alone, and only then the
body against the digest the head carries (`check_body`): a body is never read for a request nobody signed.

- `acs3`: FC 3.0's `ACS3-HMAC-SHA256` (alibabacloud-tea-openapi), which signs the body's SHA-256 and a nonce.
- `fc2`: FC 2.0's `FC <AccessKeyId>:<signature>` (aliyun-fc2), which signs no body and no nonce.
- `sigv4`: AWS's `AWS4-HMAC-SHA256` (botocore) for the Lambda API, which signs the body inside the signature (its
  BODY_FIRST: the body is read before `check`, which takes its digest from `Request.body_sha256`) and no nonce.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import re
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from multidict import CIMultiDictProxy

try:
    from _hashlib import hmac_new as _openssl_hmac
except ImportError:  # a CPython built without OpenSSL
    _openssl_hmac = None  # type: ignore[assignment]

MAX_SKEW_S = 15 * 60
"""How far a signed request's date may be from the platform's clock, either way (FC's own window)."""

MAX_HEADER_BYTES = 4096
"""Longest Authorization header a verifier reads: longer is refused before any parsing."""


class Claim(NamedTuple):
    """Who a request says signed it, read before any secret is looked up."""

    key_id: str
    signature: str
    signed_at: datetime
    """The date the request carries (within MAX_SKEW_S of the platform's clock)."""
    nonce: str | None = None
    """FC 3.0's x-acs-signature-nonce, which the caller accepts once (FC 2.0 has none)."""
    signed_headers: tuple[str, ...] = ()
    scope: str = ""
    """SigV4's credential scope (date/region/service/aws4_request), part of what it signs."""


class SignatureError(Exception):
    """The request's signature is missing, malformed, stale or wrong: answered 403, with this reason."""


class Request:
    """What a verifier reads of an HTTP request: the path and the query exactly as they were sent. (A plain
    class with slots: one is made for every signed request.)"""

    __slots__ = ("method", "raw_path", "raw_query", "headers", "names", "repeated", "body_sha256")

    def __init__(self, method: str, raw_path: str, raw_query: str, headers: CIMultiDictProxy[str]):
        self.method = method
        self.raw_path = raw_path
        """Percent-encoded, as on the request line, without the query."""
        self.raw_query = raw_query
        self.headers = headers
        """Looked up case-insensitively (a repeated header's first value: `one` refuses those)."""
        self.names = _names(tuple(headers.keys()))
        """The lower-case names of the headers."""
        self.repeated = frozenset() if len(self.names) == len(headers) else _repeated(headers)
        """Lower-case names of the headers that came more than once."""
        self.body_sha256: str | None = None
        """The body's SHA-256 (hex), for a scheme that signs the body inside its signature (BODY_FIRST: the
        caller reads the body before `check`)."""

    @classmethod
    def of(cls, method: str, raw_target: str, headers: CIMultiDictProxy[str]) -> Request:
        path, _, query = raw_target.partition("?")
        return cls(method, path, query, headers)

    def one(self, name: str) -> str | None:
        """The value of header `name` (lower-case), None when absent; SignatureError when it is repeated (which
        copy was signed?)."""
        if name in self.repeated:
            raise SignatureError(f"the header {name} is repeated")
        return self.headers.get(name)


@functools.lru_cache(maxsize=1024)
def _names(raw: tuple[str, ...]) -> frozenset[str]:
    """The header names of a request in lower case (a client sends the same ones each time: worked out once)."""
    return frozenset(name.lower() for name in raw)


def _repeated(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for name, _ in headers.items():
        name = name.lower()
        (repeated if name in seen else seen).add(name)
    return frozenset(repeated)


def printable(value: str, limit: int) -> bool:
    """ASCII without control characters (a trailing newline included), at most `limit` characters."""
    return len(value) <= limit and value.isascii() and value.isprintable()


def hmac_sha256(secret: str, message: str) -> bytes:
    """HMAC-SHA256 of `message` under `secret`, from the key's state kept once per secret (a copy of it costs half
    of a one-shot HMAC, which sets the key up again each time)."""
    mac = _keyed(secret).copy()
    mac.update(message.encode())
    return mac.digest()


@functools.lru_cache(maxsize=1024)
def _keyed(secret: str) -> Any:
    """The keyed state: OpenSSL's own HMAC object where CPython has one (what hmac.HMAC wraps: copied, updated and
    read without the wrapper's Python layer), else hmac.HMAC, which does the same."""
    if _openssl_hmac is not None:
        return _openssl_hmac(secret.encode(), digestmod="sha256")
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


SIGNED_HEADERS = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]{1,64}(?:;[a-z0-9!#$%&'*+.^_`|~-]{1,64}){0,63}")
"""A SignedHeaders list (ACS3's and SigV4's): lower-case header names, `;`-separated, 64 at most."""
_MAX_SKEW = timedelta(seconds=MAX_SKEW_S)
_SIGNATURE_FIELD = "Signature="


BLANKS = itertools.repeat("")
"""The default of each `headers.get` when canonical header values are read with `map` (a signed header is there)."""


@functools.lru_cache(maxsize=1024)
def header_lines(signed_headers: tuple[str, ...]) -> tuple[str, str]:
    """The canonical headers of a SignedHeaders list as a format string (`name:{}` lines), and the list joined: each
    request fills in its values (ACS3's and SigV4's canonical headers have the same form)."""
    lines = "".join(f"{name.replace('{', '{{').replace('}', '}}')}:{{}}\n" for name in signed_headers)
    return lines, ";".join(signed_headers)


AUTHORIZATION_FIELDS = ("Credential", "SignedHeaders", "Signature")
"""The fields of an ACS3 or SigV4 Authorization header, each once, in any order."""


def authorization_fields(form: str, algorithm: str, unprintable: str, spaced: bool) -> dict[str, str]:
    """The fields of an Authorization header (its form: the signature's value may be left out) of `algorithm`, each
    once: SignatureError otherwise (`unprintable`: the message for control characters or too long a header).
    `spaced`: a field may have white space before it (SigV4's `, ` between fields; ACS3 has none)."""
    if not printable(form, MAX_HEADER_BYTES):
        raise SignatureError(unprintable)
    name_, _, rest = form.partition(" ")
    if name_ != algorithm:
        raise SignatureError(f"the signature algorithm must be {algorithm}")
    separator = ", " if spaced else ","
    malformed = f"the Authorization header must be {separator.join(f + '=...' for f in AUTHORIZATION_FIELDS)}"
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = (part.strip() if spaced else part).partition("=")
        if not eq or name in fields or name not in AUTHORIZATION_FIELDS:
            raise SignatureError(malformed)
        fields[name] = value
    if len(fields) != len(AUTHORIZATION_FIELDS):
        raise SignatureError(malformed)
    return fields


def split_signature(header: str) -> tuple[str, str]:
    """An Authorization header without its `Signature=` value (its form: the same in every request of a client, so
    the schemes check it once and keep it), and that value ("" when there is none)."""
    start = header.find(_SIGNATURE_FIELD)
    if start < 0:
        return header, ""
    start += len(_SIGNATURE_FIELD)
    end = header.find(",", start)
    if end < 0:
        end = len(header)
    return header[:start] + header[end:], header[start:end]


@functools.lru_cache(maxsize=1024)
def coverage(names: frozenset[str], repeated: frozenset[str], signed: frozenset[str],
             must_sign: tuple[str, ...]) -> str:
    """What is wrong with a request's headers (their names, and the repeated ones) against its SignedHeaders, ""
    when nothing is: a header whose name starts with one of `must_sign` unsigned, a signed one absent or repeated.
    A client sends the same headers each time: worked out once."""
    for name in names - signed:
        if name.startswith(must_sign):
            return f"the header {name} is not signed"
    if not names >= signed:
        return f"SignedHeaders names {sorted(signed - names)[0]}, which the request does not carry"
    if repeated & signed:
        return f"the header {min(repeated & signed)} is repeated"
    return ""


def signed_header_list(value: str, required: tuple[str, ...]) -> tuple[str, ...]:
    """A SignedHeaders list, checked: lower-case names, sorted, each once, `required` among them. (Once per client:
    the schemes keep the Authorization forms that call it.)"""
    if not SIGNED_HEADERS.fullmatch(value):
        raise SignatureError("SignedHeaders must be lower-case header names, sorted, each once")
    signed = tuple(value.split(";"))
    if list(signed) != sorted(set(signed)):
        raise SignatureError("SignedHeaders must be lower-case header names, sorted, each once")
    for name in required:
        if name not in signed:
            raise SignatureError(f"SignedHeaders must include {name}")
    return signed


def dated(value: str, now: datetime, pattern: re.Pattern[str], header: str, shown_format: str) -> datetime:
    """The UTC time of a date header (`pattern`: its six fields, year to second), within MAX_SKEW_S of `now`."""
    when = _utc(pattern, value)
    if when is None:
        raise SignatureError(f"{header} must be a UTC time as {shown_format}")
    if abs(now - when) > _MAX_SKEW:
        raise SignatureError(f"{header} is more than {MAX_SKEW_S // 60} minutes from the platform's clock")
    return when


@functools.lru_cache(maxsize=64)
def _utc(pattern: re.Pattern[str], value: str) -> datetime | None:
    """(The requests of one second share their date: it is parsed once.)"""
    match = pattern.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:  # (a 13th month, a 31st of June)
        return None


def require_match(expected: str, claim: Claim) -> None:
    """SignatureError unless the signature the request carries is `expected` (compared in constant time)."""
    if not hmac.compare_digest(expected, claim.signature):  # both ASCII: read() checked the claim's form
        raise SignatureError("the signature does not match (the request differs from what was signed, or the "
                             "secret is wrong)")
