"""FC 3.0's async tasks: the platform's async invocations, by their request ids."""

from __future__ import annotations

from aiohttp import web

from ...api.handlers import stop
from ...api.keys import ASYNC, SERVICE
from ...errors import InvalidArgument, InvocationNotFound
from ...validate import REQUEST_ID_RE
from ..listing import limit_of, listed
from . import model
from .common import millis, path_fc_name, platform_name, qualifier_of


# -- async tasks (the platform's async invocations)
async def _task(request: web.Request) -> tuple[str, dict]:
    """The path's task (its id and record), checked to be the path's function's."""
    name, task_id = platform_name(request), request.match_info["task"]
    qualifier_of(request)
    record = await request.config_dict[ASYNC].status(task_id) if REQUEST_ID_RE.fullmatch(task_id) else None
    if record is None or record.get("functionName") != name:
        raise InvocationNotFound(f"function {path_fc_name(request)} has no async task {task_id} (or its record "
                                 "expired)")
    return task_id, record


async def get_async_task(request: web.Request) -> web.Response:
    _, record = await _task(request)
    return web.json_response(model.async_task(path_fc_name(request), record))


async def list_async_tasks(request: web.Request) -> web.Response:
    name = platform_name(request)
    await request.config_dict[SERVICE].get(name)
    query = request.query
    unsupported = sorted(set(query) - {"limit", "status", "prefix", "qualifier", "includePayload",
                                       "sortOrderByTime", "startedTimeBegin", "startedTimeEnd", "nextToken"})
    if unsupported or query.get("sortOrderByTime", "desc") != "desc":
        raise InvalidArgument("ListAsyncTasks takes limit, nextToken, status, prefix, qualifier, includePayload and "
                              "the started time range here; the newest come first")
    wanted = {fc: native for native, fc in model.TASK_STATUSES.items()}
    status = query.get("status")
    if status is not None and status not in wanted:
        raise InvalidArgument(f"status must be one of {', '.join(wanted)}")
    token = query.get("nextToken") or None
    if token is not None and not REQUEST_ID_RE.fullmatch(token):
        raise InvalidArgument("nextToken is not one this API gave")
    begin, end = (millis(query, "startedTimeBegin"), millis(query, "startedTimeEnd"))
    prefix, qualifier = query.get("prefix", ""), query.get("qualifier")

    def chosen(record: dict) -> bool:
        started = model.started_ms(record) or 0
        return (record["requestId"].startswith(prefix) and (qualifier is None or record["qualifier"] == qualifier)
                and (begin is None or started >= begin) and (end is None or started <= end))

    limit = limit_of(request)
    records = await request.config_dict[ASYNC].recent(name, wanted.get(status or ""), limit + 1, token, chosen)
    return listed("tasks", [model.async_task(path_fc_name(request), r) for r in records[:limit]],
                  records[limit - 1]["requestId"] if len(records) > limit else None)


async def stop_async_task(request: web.Request) -> web.Response:
    task_id, _ = await _task(request)
    await stop(request.config_dict, task_id)
    return web.Response(status=200)
