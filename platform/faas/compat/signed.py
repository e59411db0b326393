"""Signed requests to a compatibility surface: verified before anything else happens, against the access
keys in Redis (a revoked key fails at once), a nonce accepted once."""

from __future__ import annotations

from datetime import datetime, timezone
from types import ModuleType

from aiohttp import web

from .. import defaults
from ..access_keys import Found
from ..api.keys import ACCESS_KEYS
from ..auth import Role, Token
from ..signing import Claim, Request, SignatureError
from ..webio import read_event

BODY = web.RequestKey("faas_signed_body", bytes)
"""The body, read (within REQUEST_BYTES) once the head's signature is good, to verify its hash: handlers take it
from here."""


class Denied(Exception):
    """403: the request's signature, key or role does not allow it. `code` is FC's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


async def authenticate(request: web.Request, scheme: ModuleType, needed: Role) -> Token:
    """The access key that signed `request` with `scheme` (faas.signing.acs3 or .fc2), allowed `needed`."""
    signed = Request.of(request.method, request.raw_path, request.headers)
    try:
        claim = scheme.read(signed, datetime.now(timezone.utc))
    except SignatureError as exc:
        raise Denied("InvalidSignature", str(exc)) from None
    store = request.config_dict[ACCESS_KEYS]
    found = _checked(await store.lookup(claim.key_id), scheme, signed, claim)
    first_use, generation = await store.admit(claim)
    if not first_use:
        raise Denied("SignatureNonceUsed", "this x-acs-signature-nonce was used already: a request is accepted once")
    if generation != found.generation:  # a key was revoked since this one was read here: was it this one?
        found = _checked(await store.lookup(claim.key_id, fresh=True), scheme, signed, claim)
    if not found.key.allows(needed):
        raise Denied("AccessDenied", f"an access key of role {found.key.role.value} may not do this; it needs "
                     f"role {needed.value}")
    body = await read_event(request, defaults.REQUEST_BYTES, what="the request body")
    try:
        scheme.check_body(signed, body)
    except SignatureError as exc:
        raise Denied("InvalidSignature", str(exc)) from None
    request[BODY] = body
    return found.key


def _checked(found: Found | None, scheme: ModuleType, signed: Request, claim: Claim) -> Found:
    """The key, once its secret signed the request."""
    if found is None:
        raise Denied("InvalidAccessKeyId.NotFound", f"no access key {claim.key_id} (or it was revoked)")
    try:
        scheme.check(signed, claim, found.secret)
    except SignatureError as exc:
        raise Denied("SignatureNotMatch", str(exc)) from None
    return found
