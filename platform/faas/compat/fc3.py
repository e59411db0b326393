"""FC 3.0's API (`/2023-03-30/...`), as the `alibabacloud-fc20230330` SDK calls it, on the platform's services.

Every request is signed (ACS3-HMAC-SHA256, see faas.signing.acs3) with an access key; management needs an
admin key, InvokeFunction an invoke one. Errors are FC's `{"Code", "Message", "RequestId"}` with the status
the `/v1` API gives the same error, so the SDK raises its own ClientException/ServerException with `.code`.
Function errors are 200 with `x-fc-error-type`, as on FC. The field mapping is in `fc3_model`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import defaults
from ..api.handlers import invoke
from ..api.keys import ASYNC, REDIS, RELEASES, SERVICE, SETTINGS, TRIGGERS
from ..api.middlewares import describe_error
from ..auth import Role
from ..errors import InvalidArgument, InvocationNotFound
from ..models import new_request_id
from ..qualifiers import check_qualifier
from ..signing import acs3
from ..validate import REQUEST_ID_RE
from . import fc3_model
from .names import FcNames, native_name
from .signed import BODY, Denied, authenticate

log = logging.getLogger(__name__)

PREFIX = "/2023-03-30"
REQUEST_ID = web.RequestKey("fc3_request_id", str)
LIST_LIMIT = (1, 100)
LIST_DEFAULT = 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str, request_id: str, headers: dict[str, str] | None = None
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
        return _error(403, exc.code, exc.message, request_id)
    except Exception as exc:
        answer = describe_error(request, exc)
        headers = {k: v for k, v in answer.headers.items() if k != "WWW-Authenticate"}
        return _error(answer.status, answer.code, answer.message, request_id, headers)


def _route(method: str, path: str, handler: Handler, needed: Role = Role.ADMIN) -> web.RouteDef:
    handler.faas_role = None  # type: ignore[attr-defined]  # the platform's bearer check: not here, the signature's
    handler.fc_role = needed  # type: ignore[attr-defined]
    return web.route(method, path, handler)


def _body(request: web.Request) -> dict:
    try:
        body = json.loads(request[BODY] or b"{}")
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument("the body is not valid JSON") from None
    except RecursionError:
        raise InvalidArgument("the body is JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object")
    return body


def _qualifier(request: web.Request) -> str:
    return check_qualifier(request.query.get("qualifier", defaults.LATEST))


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(LIST_DEFAULT))
    if not raw.isascii() or not raw.isdigit() or not LIST_LIMIT[0] <= int(raw) <= LIST_LIMIT[1]:
        raise InvalidArgument(f"limit must be a whole number from {LIST_LIMIT[0]} to {LIST_LIMIT[1]}")
    return int(raw)


def page(names: list[str], request: web.Request) -> tuple[list[str], str | None]:
    """FC's paging of a sorted list of names: those after `nextToken` that start with `prefix`, `limit` at
    most, and the token of the next page (None: this is the last)."""
    prefix = request.query.get("prefix", "")
    token = request.query.get("nextToken", "")
    limit = _limit(request)
    chosen = [n for n in sorted(names) if n.startswith(prefix) and n > token]
    return chosen[:limit], chosen[limit - 1] if len(chosen) > limit else None


def _fc_name(request: web.Request) -> str:
    return fc3_model.check_function_name(request.match_info["function"])


def _name(request: web.Request) -> str:
    """The platform name of the path's function (see faas.compat.names)."""
    return native_name(_fc_name(request))


def _names(request: web.Request) -> FcNames:
    return FcNames(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)


# -- functions
async def create_function(request: web.Request) -> web.Response:
    spec = fc3_model.spec_body(_body(request), creating=True)
    fc_name = spec.get("name")
    if not isinstance(fc_name, str):
        raise InvalidArgument("functionName is required")
    names = _names(request)
    native, claimed = await names.claim(fc_name)
    try:
        record = await request.config_dict[SERVICE].create(spec | {"name": native})
    except BaseException:
        if claimed:  # its pair was made for this function, which was not made
            await names.release(fc_name)
        raise
    return web.json_response(fc3_model.function(record, fc_name))


async def get_function(request: web.Request) -> web.Response:
    name = _name(request)
    _qualifier(request)  # checked; the function's LATEST is what GetFunction shows
    return web.json_response(fc3_model.function(await request.config_dict[SERVICE].get(name), _fc_name(request)))


async def update_function(request: web.Request) -> web.Response:
    name = _name(request)
    record = await request.config_dict[SERVICE].update(name, fc3_model.spec_body(_body(request), creating=False))
    return web.json_response(fc3_model.function(record, _fc_name(request)))


async def delete_function(request: web.Request) -> web.Response:
    await request.config_dict[SERVICE].delete(_name(request))
    await _names(request).release(_fc_name(request))
    return web.Response(status=204)


async def list_functions(request: web.Request) -> web.Response:
    unsupported = sorted(set(request.query) - {"prefix", "limit", "nextToken"})
    if unsupported:
        raise InvalidArgument(f"ListFunctions does not take {', '.join(unsupported)} here")
    records = {r.name: r for r in await request.config_dict[SERVICE].list()}
    fc_names = await _names(request).fc_names(list(records))
    by_fc_name = {fc_names[n]: r for n, r in records.items()}
    names, token = page(list(by_fc_name), request)
    body: dict = {"functions": [fc3_model.function(by_fc_name[n], n) for n in names]}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)


# -- versions and aliases
async def publish_version(request: web.Request) -> web.Response:
    body = _body(request)
    if set(body) - {"description"}:
        raise InvalidArgument("PublishFunctionVersion takes only description")
    version = await request.config_dict[RELEASES].publish(_name(request), body)
    return web.json_response(fc3_model.version(version))


async def list_versions(request: web.Request) -> web.Response:
    direction = request.query.get("direction", "BACKWARD")
    if direction != "BACKWARD":
        raise InvalidArgument("direction must be BACKWARD (newest first): the platform lists versions that way only")
    token = request.query.get("nextToken") or None
    versions, token = await request.config_dict[RELEASES].list_versions(_name(request), _limit(request), token)
    body: dict = {"versions": [fc3_model.version(v) for v in versions], "direction": direction}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)


async def delete_version(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].delete_version(_name(request), request.match_info["version"])
    return web.Response(status=204)


async def create_alias(request: web.Request) -> web.Response:
    alias = await request.config_dict[RELEASES].create_alias(_name(request), fc3_model.alias_body(_body(request)))
    return web.json_response(fc3_model.alias(alias))


async def get_alias(request: web.Request) -> web.Response:
    alias = await request.config_dict[RELEASES].get_alias(_name(request), request.match_info["alias"])
    return web.json_response(fc3_model.alias(alias))


async def update_alias(request: web.Request) -> web.Response:
    body = fc3_model.alias_body(_body(request))
    if "aliasName" in body:
        raise InvalidArgument("aliasName is the path's: UpdateAlias does not take it")
    alias = await request.config_dict[RELEASES].update_alias(_name(request), request.match_info["alias"], body)
    return web.json_response(fc3_model.alias(alias))


async def delete_alias(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].delete_alias(_name(request), request.match_info["alias"])
    return web.Response(status=204)


async def list_aliases(request: web.Request) -> web.Response:
    aliases = {a.name: a for a in await request.config_dict[RELEASES].list_aliases(_name(request))}
    names, token = page(list(aliases), request)
    body: dict = {"aliases": [fc3_model.alias(aliases[n]) for n in names]}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)


# -- triggers
async def create_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(_name(request))
    service = request.config_dict[TRIGGERS]
    made = await service.create(record, fc3_model.trigger_body(_body(request), creating=True))
    return web.json_response(fc3_model.trigger(await service.describe(made), _base_url(request), _fc_name(request)))


async def get_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(_name(request))
    service = request.config_dict[TRIGGERS]
    found = await service.get(record.name, request.match_info["trigger"])
    return web.json_response(fc3_model.trigger(await service.describe(found), _base_url(request), _fc_name(request)))


async def update_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(_name(request))
    service = request.config_dict[TRIGGERS]
    body = _body(request)
    current = await service.get(record.name, request.match_info["trigger"])
    body = fc3_model.trigger_body({"triggerType": current.type, **body}, creating=False)
    body.pop("triggerType", None)
    changed = await service.update(record, current.name, body)
    return web.json_response(fc3_model.trigger(await service.describe(changed), _base_url(request), _fc_name(request)))


async def delete_trigger(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(_name(request))
    await request.config_dict[TRIGGERS].delete(record.name, request.match_info["trigger"])
    return web.Response(status=204)


async def list_triggers(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(_name(request))
    service = request.config_dict[TRIGGERS]
    triggers = {t.name: t for t in await service.list(record.name)}
    names, token = page(list(triggers), request)
    base, fc_name = _base_url(request), _fc_name(request)
    body: dict = {"triggers": [fc3_model.trigger(await service.describe(triggers[n]), base, fc_name) for n in names]}
    if token is not None:
        body["nextToken"] = token
    return web.json_response(body)


def _base_url(request: web.Request) -> str:
    """Where callers reach this platform, as the request was addressed."""
    return f"{request.scheme}://{request.host}"


# -- per-qualifier settings
async def put_provision_config(request: web.Request) -> web.Response:
    name, qualifier = _name(request), _qualifier(request)
    config = await request.config_dict[RELEASES].put_provision(
        name, qualifier, {"target": fc3_model.provision_target(_body(request))})
    return web.json_response(fc3_model.provision_config(_fc_name(request), config))


async def get_provision_config(request: web.Request) -> web.Response:
    name = _name(request)
    config = await request.config_dict[RELEASES].get_provision(name, _qualifier(request))
    return web.json_response(fc3_model.provision_config(_fc_name(request), config))


async def delete_provision_config(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].put_provision(_name(request), _qualifier(request), {"target": 0})
    return web.Response(status=204)


async def put_async_config(request: web.Request) -> web.Response:
    name, qualifier = _name(request), _qualifier(request)
    config = await request.config_dict[RELEASES].put_async_config(
        name, qualifier, fc3_model.async_config_body(_body(request)))
    return web.json_response(fc3_model.async_config(_fc_name(request), config))


async def get_async_config(request: web.Request) -> web.Response:
    name = _name(request)
    config = await request.config_dict[RELEASES].get_async_config(name, _qualifier(request))
    return web.json_response(fc3_model.async_config(_fc_name(request), config))


async def delete_async_config(request: web.Request) -> web.Response:
    await request.config_dict[RELEASES].delete_async_config(_name(request), _qualifier(request))
    return web.Response(status=204)


async def put_concurrency_config(request: web.Request) -> web.Response:
    name, body = _name(request), _body(request)
    record = await request.config_dict[SERVICE].update(name, {"maxInstances": fc3_model.reserved_concurrency(body)})
    return web.json_response(fc3_model.concurrency_config(_fc_name(request), record))


async def get_concurrency_config(request: web.Request) -> web.Response:
    record = await request.config_dict[SERVICE].get(_name(request))
    return web.json_response(fc3_model.concurrency_config(_fc_name(request), record))


async def delete_concurrency_config(request: web.Request) -> web.Response:
    await request.config_dict[SERVICE].update(_name(request), {"maxInstances": defaults.MAX_INSTANCES})
    return web.Response(status=204)


# -- async tasks (the platform's async invocations)
async def get_async_task(request: web.Request) -> web.Response:
    name, task_id = _name(request), request.match_info["task"]
    _qualifier(request)
    record = await request.config_dict[ASYNC].status(task_id) if REQUEST_ID_RE.fullmatch(task_id) else None
    if record is None or record.get("functionName") != name:
        raise InvocationNotFound(f"function {_fc_name(request)} has no async task {task_id} (or its record expired)")
    return web.json_response(fc3_model.async_task(_fc_name(request), record))


async def list_async_tasks(request: web.Request) -> web.Response:
    name = _name(request)
    await request.config_dict[SERVICE].get(name)
    query = request.query
    unsupported = sorted(set(query) - {"limit", "status", "prefix", "qualifier", "includePayload",
                                       "sortOrderByTime", "startedTimeBegin", "startedTimeEnd", "nextToken"})
    if unsupported or query.get("nextToken") or query.get("sortOrderByTime", "desc") != "desc":
        raise InvalidArgument("ListAsyncTasks takes limit, status, prefix, qualifier, includePayload and the started "
                              "time range here; the newest come first, in one page")
    wanted = {fc: native for native, fc in fc3_model.TASK_STATUSES.items()}
    status = query.get("status")
    if status is not None and status not in wanted:
        raise InvalidArgument(f"status must be one of {', '.join(wanted)}")
    begin, end = (_millis(query, "startedTimeBegin"), _millis(query, "startedTimeEnd"))
    records = await request.config_dict[ASYNC].recent(name, wanted.get(status or ""), defaults.ASYNC_RECENT)
    tasks = [fc3_model.async_task(_fc_name(request), r) for r in records
             if r["requestId"].startswith(query.get("prefix", ""))
             and ("qualifier" not in query or r["qualifier"] == query["qualifier"])]
    tasks = [t for t in tasks if (begin is None or (t["startedTime"] or 0) >= begin)
             and (end is None or (t["startedTime"] or 0) <= end)]
    return web.json_response({"tasks": tasks[:_limit(request)]})


def _millis(query, key: str) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidArgument(f"{key} must be milliseconds since the epoch")
    return int(raw)


# -- invocations
async def invoke_function(request: web.Request) -> web.Response:
    name = _name(request)
    invocation_type = request.headers.get("x-fc-invocation-type", "Sync")
    if invocation_type not in ("Sync", "Async"):
        raise InvalidArgument("x-fc-invocation-type must be Sync or Async")
    log_type = request.headers.get("x-fc-log-type", "None")
    if log_type not in ("None", "Tail"):
        raise InvalidArgument("x-fc-log-type must be None or Tail")
    if "x-fc-async-task-id" in request.headers:
        raise InvalidArgument("x-fc-async-task-id is not supported yet: the platform names async tasks itself")
    answer = await invoke(request.config_dict, name, _qualifier(request), request[BODY],
                          asynchronous=invocation_type == "Async", tail=log_type == "Tail")
    if invocation_type == "Async":  # FC answers 202 with no body
        return web.Response(status=202, headers={"x-fc-request-id": answer.headers["X-Fc-Request-Id"]})
    return answer


def fc3_app() -> web.Application:
    """The FC 3.0 surface, mounted at PREFIX."""
    app = web.Application(middlewares=[fc3_middleware])
    app.router.add_routes([
        _route("POST", "/functions", create_function),
        _route("GET", "/functions", list_functions),
        _route("GET", "/functions/{function}", get_function),
        _route("PUT", "/functions/{function}", update_function),
        _route("DELETE", "/functions/{function}", delete_function),
        _route("POST", "/functions/{function}/invocations", invoke_function, Role.INVOKE),
        _route("POST", "/functions/{function}/versions", publish_version),
        _route("GET", "/functions/{function}/versions", list_versions),
        _route("DELETE", "/functions/{function}/versions/{version}", delete_version),
        _route("POST", "/functions/{function}/aliases", create_alias),
        _route("GET", "/functions/{function}/aliases", list_aliases),
        _route("GET", "/functions/{function}/aliases/{alias}", get_alias),
        _route("PUT", "/functions/{function}/aliases/{alias}", update_alias),
        _route("DELETE", "/functions/{function}/aliases/{alias}", delete_alias),
        _route("POST", "/functions/{function}/triggers", create_trigger),
        _route("GET", "/functions/{function}/triggers", list_triggers),
        _route("GET", "/functions/{function}/triggers/{trigger}", get_trigger),
        _route("PUT", "/functions/{function}/triggers/{trigger}", update_trigger),
        _route("DELETE", "/functions/{function}/triggers/{trigger}", delete_trigger),
        _route("PUT", "/functions/{function}/provision-config", put_provision_config),
        _route("GET", "/functions/{function}/provision-config", get_provision_config),
        _route("DELETE", "/functions/{function}/provision-config", delete_provision_config),
        _route("GET", "/functions/{function}/async-tasks", list_async_tasks, Role.INVOKE),
        _route("GET", "/functions/{function}/async-tasks/{task}", get_async_task, Role.INVOKE),
        _route("PUT", "/functions/{function}/concurrency", put_concurrency_config),
        _route("GET", "/functions/{function}/concurrency", get_concurrency_config),
        _route("DELETE", "/functions/{function}/concurrency", delete_concurrency_config),
        _route("PUT", "/functions/{function}/async-invoke-config", put_async_config),
        _route("GET", "/functions/{function}/async-invoke-config", get_async_config),
        _route("DELETE", "/functions/{function}/async-invoke-config", delete_async_config),
    ])
    return app
