"""Signed requests to a compatibility surface: verified before anything else happens, against the access
keys in Redis (a revoked key fails at once), a nonce accepted once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from types import ModuleType
from typing import NamedTuple

from aiohttp import web

from .. import defaults
from ..access_keys import Found
from ..api.invocations import callers_id, invoke
from ..api.keys import ACCESS_KEYS
from ..api.middlewares import describe_error
from ..auth import Role, Token
from ..errors import InvalidArgument
from ..models import new_request_id
from ..signing import Claim, Request, SignatureError
from ..webio import read_event

BODY = web.RequestKey("faas_signed_body", bytes)
"""The body, read (within REQUEST_BYTES) once the head's signature is good, to verify its hash: handlers take it
from here."""

CLAIM = web.RequestKey("faas_signed_claim", Claim)
"""What the request's signature claimed (its key, and SigV4's scope), once it was verified."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorShape = Callable[[int, str, str, str], dict]
"""(status, code, message, request id) -> a surface's error body."""
ErrorHeaders = Callable[[int, str, str], dict]
"""(status, code, request id) -> the headers of a surface's error answer."""


def fc_error_headers(status: int, code: str, request_id: str) -> dict:
    """Function Compute's: the request id."""
    return {"x-fc-request-id": request_id}


class Surface:
    """A surface at `prefix`: each request's signature (`scheme`: faas.signing.acs3 or .fc2) first, then the
    handler; every error in the surface's own shape, with the status the `/v1` API gives the same error. Its
    routes go on the platform's own router, each handler wrapped (a sub-app's dispatch and middleware would cost
    every request some microseconds)."""

    def __init__(self, prefix: str, scheme: ModuleType, shape: ErrorShape, headers: ErrorHeaders = fc_error_headers):
        self.prefix, self.scheme, self.shape, self.headers = prefix, scheme, shape, headers

    def add_to(self, app: web.Application, routes: list[SurfaceRoute]) -> None:
        """Add `routes` (paths below the prefix) to `app`, and an answer for every other path below it: 404 or
        405 in the surface's shape, once the request is signed (an unsigned probe learns nothing)."""
        own = web.UrlDispatcher()  # the surface's routes alone: which path a 404 or a 405 is
        for method, path, handler, needed in routes:
            own.add_route(method, self.prefix + path, _never)
            app.router.add_route(method, self.prefix + path, self.wrap(handler, needed))

        async def unmatched(request: web.Request) -> web.StreamResponse:
            raise (await own.resolve(request)).http_exception or web.HTTPNotFound()

        app.router.add_route("*", self.prefix + "/{faas_unmatched:.*}", self.wrap(unmatched, Role.INVOKE))

    def wrap(self, handler: Handler, needed: Role | None) -> Handler:
        """`handler` behind the signature check (`needed`: the access key's role it takes; None: the handler
        checks what it must) and the surface's error shape."""
        scheme = self.scheme

        async def signed(request: web.Request) -> web.StreamResponse:
            try:
                if needed is not None:
                    await authenticate(request, scheme, needed)
                return await handler(request)
            except Denied as exc:
                return self.error(403, exc.code, exc.message)
            except Exception as exc:
                answer = describe_error(request, exc)
                headers = {k: v for k, v in answer.headers.items() if k != "WWW-Authenticate"}
                return self.error(answer.status, answer.code, answer.message, headers)

        signed.faas_role = None  # type: ignore[attr-defined]  # the platform's bearer check: not here
        return signed

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
        request_id = new_request_id()
        return web.json_response(self.shape(status, code, message, request_id), status=status,
                                 headers={**self.headers(status, code, request_id), **(headers or {})})


async def _never(request: web.Request) -> web.StreamResponse:
    raise AssertionError("a surface's own dispatcher only resolves paths")


class SurfaceRoute(NamedTuple):
    method: str
    path: str
    handler: Handler
    needed: Role | None


def route(method: str, path: str, handler: Handler, needed: Role | None = Role.ADMIN) -> SurfaceRoute:
    """A surface's route: `needed` is the access key's role it takes (the signature's check, not a bearer's);
    None: the handler checks what it must."""
    return SurfaceRoute(method, path, handler, needed)


def base_url(request: web.Request) -> str:
    """Where callers reach this platform, as the request was addressed."""
    return f"{request.scheme}://{request.host}"


def json_body(request: web.Request) -> dict:
    """The signed body as a JSON object (InvalidArgument otherwise; none is {})."""
    try:
        body = json.loads(request[BODY] or b"{}")
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument("the body is not valid JSON") from None
    except RecursionError:
        raise InvalidArgument("the body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object")
    return body


class Denied(Exception):
    """403: the request's signature, key or role does not allow it. `code` is FC's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


async def authenticate(request: web.Request, scheme: ModuleType, needed: Role, read_body: bool = True) -> Token:
    """The access key that signed `request` with `scheme` (faas.signing.acs3, .fc2 or .sigv4), allowed `needed`. Without
    `read_body` the body is left to stream on (FC 2.0's proxy path, which signs no body): then it must claim no
    Content-MD5, which could not be checked before the body goes on."""
    signed = Request.of(request.method, request.raw_path, request.headers)
    try:
        claim = scheme.read(signed, datetime.now(timezone.utc))
    except SignatureError as exc:
        raise Denied("InvalidSignature", str(exc)) from None
    store = request.app[ACCESS_KEYS]  # (the surfaces' routes are on the platform's own app, not a sub-app)
    found = store.cached(claim.key_id) or await store.lookup(claim.key_id)
    body = b""
    if scheme.BODY_FIRST and found is not None:  # the body is inside the signature: read once the key is known
        body = await _body(request)
        signed.body_sha256 = hashlib.sha256(body).hexdigest()
    found = _checked(found, scheme, signed, claim)
    first_use, generation = await store.admit(claim)
    if not first_use:
        raise Denied("SignatureNonceUsed", "this x-acs-signature-nonce was used already: a request is accepted once")
    if generation != found.generation:  # a key was revoked since this one was read here: was it this one?
        found = _checked(await store.lookup(claim.key_id, fresh=True), scheme, signed, claim)
    if not found.key.allows(needed):
        raise Denied("AccessDenied", f"an access key of role {found.key.role.value} may not do this; it needs "
                     f"role {needed.value}")
    if not read_body:
        if "content-md5" in request.headers:
            raise Denied("InvalidSignature", "a request through an HTTP trigger cannot claim a Content-MD5 here")
        request[CLAIM] = claim
        return found.key
    if not scheme.BODY_FIRST:
        body = await _body(request)
        try:
            scheme.check_body(signed, body)
        except SignatureError as exc:
            raise Denied("InvalidSignature", str(exc)) from None
    request[BODY] = body
    request[CLAIM] = claim
    return found.key


async def _body(request: web.Request) -> bytes:
    if request.content_length == 0:
        return b""
    return await read_event(request, defaults.REQUEST_BYTES, what="the request body")


def _checked(found: Found | None, scheme: ModuleType, signed: Request, claim: Claim) -> Found:
    """The key, once its secret signed the request."""
    if found is None:
        raise Denied("InvalidAccessKeyId.NotFound", f"no access key {claim.key_id} (or it was revoked)")
    try:
        scheme.check(signed, claim, found.secret)
    except SignatureError as exc:
        raise Denied("SignatureNotMatch", str(exc)) from None
    return found


def invoke_signed(request: web.Request, name: str, qualifier: str, task_header: str) -> Awaitable[web.Response]:
    """An InvokeFunction of either surface, on the platform's one invoke: `x-fc-invocation-type` Sync or Async (202
    with no body, as FC answers), `x-fc-log-type` None or Tail, and the surface's task-id header (`task_header`).
    The headers are checked at once; what is returned is the invocation, to await."""
    headers = request.headers
    invocation_type = headers.get("x-fc-invocation-type", "Sync")
    if invocation_type not in ("Sync", "Async"):
        raise InvalidArgument("x-fc-invocation-type must be Sync or Async")
    log_type = headers.get("x-fc-log-type", "None")
    if log_type not in ("None", "Tail"):
        raise InvalidArgument("x-fc-log-type must be None or Tail")
    task_id = callers_id(headers, task_header)
    if invocation_type == "Sync":
        if task_id is not None:
            raise InvalidArgument(f"{task_header} names an async task: send x-fc-invocation-type: Async too")
        return invoke(request.app, name, qualifier, request[BODY], asynchronous=False, tail=log_type == "Tail")
    return _accepted(invoke(request.app, name, qualifier, request[BODY], asynchronous=True, request_id=task_id))


async def _accepted(invocation: Awaitable[web.Response]) -> web.Response:
    """202 with no body, as FC answers an async invocation."""
    answer = await invocation
    return web.Response(status=202, headers={"x-fc-request-id": answer.headers["X-Fc-Request-Id"]})
