"""What the FC 3.0 surface's handlers share: the signature check and FC's error shape (the middleware), and
the reading of paths, bodies, qualifiers and pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from ... import defaults
from ...api.keys import REDIS, SETTINGS
from ...api.middlewares import describe_error
from ...auth import Role
from ...errors import InvalidArgument
from ...models import new_request_id
from ...qualifiers import check_qualifier
from ...signing import acs3
from ..names import FcNames, native_name
from ..signed import BODY, Denied, authenticate
from . import model

REQUEST_ID = web.RequestKey("fc3_request_id", str)
LIST_LIMIT = (1, 100)
LIST_DEFAULT = 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str, request_id: str, headers: dict[str, str] | None = None
           ) -> web.Response:
    return web.json_response({"Code": code, "Message": message, "RequestId": request_id}, status=status,
                             headers={"x-fc-request-id": request_id, **(headers or {})})


@web.middleware
async def fc3_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Signature first, then the handler; every error in FC 3.0's shape."""
    request_id = request[REQUEST_ID] = new_request_id()
    try:
        matched = request.match_info.http_exception is None
        needed = getattr(request.match_info.handler, "fc_role", Role.ADMIN) if matched else Role.INVOKE
        await authenticate(request, acs3, needed)
        if not matched:
            raise request.match_info.http_exception  # type: ignore[misc]  # (checked above)
        return await handler(request)
    except Denied as exc:
        return error(403, exc.code, exc.message, request_id)
    except Exception as exc:
        answer = describe_error(request, exc)
        headers = {k: v for k, v in answer.headers.items() if k != "WWW-Authenticate"}
        return error(answer.status, answer.code, answer.message, request_id, headers)


def route(method: str, path: str, handler: Handler, needed: Role = Role.ADMIN) -> web.RouteDef:
    handler.faas_role = None  # type: ignore[attr-defined]  # the platform's bearer check: not here, the signature's
    handler.fc_role = needed  # type: ignore[attr-defined]
    return web.route(method, path, handler)


def json_body(request: web.Request) -> dict:
    try:
        body = json.loads(request[BODY] or b"{}")
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument("the body is not valid JSON") from None
    except RecursionError:
        raise InvalidArgument("the body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object")
    return body


def qualifier_of(request: web.Request) -> str:
    return check_qualifier(request.query.get("qualifier", defaults.LATEST))


def limit_of(request: web.Request) -> int:
    raw = request.query.get("limit", str(LIST_DEFAULT))
    if not raw.isascii() or not raw.isdigit() or not LIST_LIMIT[0] <= int(raw) <= LIST_LIMIT[1]:
        raise InvalidArgument(f"limit must be a whole number from {LIST_LIMIT[0]} to {LIST_LIMIT[1]}")
    return int(raw)


def page(names: list[str], request: web.Request) -> tuple[list[str], str | None]:
    """FC's paging of a sorted list of names: those after `nextToken` that start with `prefix`, `limit` at
    most, and the token of the next page (None: this is the last)."""
    prefix = request.query.get("prefix", "")
    token = request.query.get("nextToken", "")
    limit = limit_of(request)
    chosen = [n for n in sorted(names) if n.startswith(prefix) and n > token]
    return chosen[:limit], chosen[limit - 1] if len(chosen) > limit else None


def path_fc_name(request: web.Request) -> str:
    return model.check_function_name(request.match_info["function"])


def platform_name(request: web.Request) -> str:
    """The platform name of the path's function (see faas.compat.names)."""
    return native_name(path_fc_name(request))


def name_pairs(request: web.Request) -> FcNames:
    return FcNames(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)


def base_url(request: web.Request) -> str:
    """Where callers reach this platform, as the request was addressed."""
    return f"{request.scheme}://{request.host}"



def millis(query, key: str) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidArgument(f"{key} must be milliseconds since the epoch")
    return int(raw)
