"""Signed requests: Function Compute's two signatures, verified without I/O (the caller looks up the secret
and remembers nonces).

A signature proves that whoever holds an access key's secret made this request: the method, the path, the
query, the headers it names (and for FC 3.0 the body) as they arrived. Verifiers here are pure functions of
the request and the secret, so that fixed vectors computed with the SDKs' own signers test them. Each scheme
reads the claim (`read`), checks it with the secret (`check`), both from the head alone, and only then the
body against the digest the head carries (`check_body`): a body is never read for a request nobody signed.

- `acs3`: FC 3.0's `ACS3-HMAC-SHA256` (alibabacloud-tea-openapi), which signs the body's SHA-256 and a nonce.
- `fc2`: FC 2.0's `FC <AccessKeyId>:<signature>` (aliyun-fc2), which signs no body and no nonce.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime

from multidict import CIMultiDictProxy

MAX_SKEW_S = 15 * 60
"""How far a signed request's date may be from the platform's clock, either way (FC's own window)."""

MAX_HEADER_BYTES = 4096
"""Longest Authorization header a verifier reads: longer is refused before any parsing."""


@dataclass(frozen=True)
class Claim:
    """Who a request says signed it, read before any secret is looked up."""

    key_id: str
    signature: str
    signed_at: datetime
    """The date the request carries (within MAX_SKEW_S of the platform's clock)."""
    nonce: str | None = None
    """FC 3.0's x-acs-signature-nonce, which the caller accepts once (FC 2.0 has none)."""
    signed_headers: tuple[str, ...] = ()


class SignatureError(Exception):
    """The request's signature is missing, malformed, stale or wrong: answered 403, with this reason."""


@dataclass(frozen=True)
class Request:
    """What a verifier reads of an HTTP request: the path and the query exactly as they were sent."""

    method: str
    raw_path: str
    """Percent-encoded, as on the request line, without the query."""
    raw_query: str
    headers: CIMultiDictProxy[str]
    values: dict[str, str] = field(init=False, repr=False)
    """Each header's value by its lower-case name (read once: a verifier looks at each several times)."""
    repeated: frozenset[str] = field(init=False, repr=False)
    """Lower-case names of the headers that came more than once."""

    def __post_init__(self) -> None:
        values: dict[str, str] = {}
        repeated = set()
        for name, value in self.headers.items():
            name = name.lower()
            if name in values:
                repeated.add(name)
            values[name] = value
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "repeated", frozenset(repeated))

    @classmethod
    def of(cls, method: str, raw_target: str, headers: CIMultiDictProxy[str]) -> Request:
        path, _, query = raw_target.partition("?")
        return cls(method, path, query, headers)

    def one(self, name: str) -> str | None:
        """The value of header `name` (lower-case), None when absent; SignatureError when it is repeated (which
        copy was signed?)."""
        if name in self.repeated:
            raise SignatureError(f"the header {name} is repeated")
        return self.values.get(name)


def printable(value: str, limit: int) -> bool:
    """ASCII without control characters (a trailing newline included), at most `limit` characters."""
    return len(value) <= limit and value.isascii() and value.isprintable()


def require_match(expected: str, claim: Claim) -> None:
    """SignatureError unless the signature the request carries is `expected` (compared in constant time)."""
    if not hmac.compare_digest(expected.encode(), claim.signature.encode()):
        raise SignatureError("the signature does not match (the request differs from what was signed, or the "
                             "secret is wrong)")
