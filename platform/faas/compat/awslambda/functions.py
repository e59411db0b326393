"""Lambda's functions: GetFunction, GetFunctionConfiguration, ListFunctions, DeleteFunction, Invoke and the
function's concurrency (its `maxInstances` here), on the platform's services."""

from __future__ import annotations

from aiohttp import web

from ... import defaults
from ...api.handlers import invoke as platform_invoke
from ...api.keys import RELEASES, SERVICE
from ...errors import InvalidArgument
from ...models import FunctionRecord
from ..limits import max_instances
from ..listing import page_after
from ..names import by_surface_name, name_pairs
from ..signed import BODY, json_body
from .common import ACCOUNT_ID, function_arn, function_of, version_of

_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_LIST_DEFAULT, _LIST_MAX = 50, 10_000


def configuration(request: web.Request, record: FunctionRecord, name: str) -> dict:
    """A function as Lambda's FunctionConfiguration shows it."""
    spec = record.spec
    return {
        "FunctionName": name,
        "FunctionArn": function_arn(request, name),
        "Runtime": spec.runtime,
        "Handler": spec.handler,
        "Description": spec.description,
        "Timeout": spec.timeout_s,
        "MemorySize": spec.memory_mb,
        "Environment": {"Variables": dict(spec.environment)},
        "Version": version_of(record.version_id),
        "CodeSha256": record.code_sha256 or "",
        "PackageType": "Zip" if spec.custom_container is None else "Image",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/faas",
    }


async def get_function(request: web.Request) -> web.Response:
    name, native, qualifier = function_of(request)
    record = await request.config_dict[RELEASES].shown(native, qualifier)
    return web.json_response({"Configuration": configuration(request, record, name),
                              "Code": {"RepositoryType": "Platform"}})


async def get_function_configuration(request: web.Request) -> web.Response:
    name, native, qualifier = function_of(request)
    record = await request.config_dict[RELEASES].shown(native, qualifier)
    return web.json_response(configuration(request, record, name))


async def list_functions(request: web.Request) -> web.Response:
    """ListFunctions: the functions by name, `MaxItems` (1-10000, 50 by default) from after `Marker`, and the
    `NextMarker` of the next page."""
    unsupported = sorted(set(request.query) - {"Marker", "MaxItems", "FunctionVersion", "MasterRegion"})
    if unsupported:
        raise InvalidArgument(f"ListFunctions does not take {', '.join(unsupported)} here")
    if request.query.get("FunctionVersion", "ALL") != "ALL":
        raise InvalidArgument("FunctionVersion must be ALL")
    limit = max_items(request)
    by_name = await by_surface_name(request)
    chosen, marker = page_after(list(by_name), request.query.get("Marker", ""), limit)
    body: dict = {"Functions": [configuration(request, by_name[n], n) for n in chosen]}
    if marker is not None:
        body["NextMarker"] = marker
    return web.json_response(body)


def max_items(request: web.Request) -> int:
    """A list's `MaxItems`: 1-10000, 50 by default."""
    raw = request.query.get("MaxItems", str(_LIST_DEFAULT))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= _LIST_MAX:
        raise InvalidArgument(f"MaxItems must be a whole number from 1 to {_LIST_MAX}")
    return int(raw)


async def delete_function(request: web.Request) -> web.Response:
    """DeleteFunction: the function, or with a version as its qualifier that version alone."""
    name, native, qualifier = function_of(request)
    if qualifier != defaults.LATEST:
        await request.config_dict[RELEASES].delete_version(native, qualifier)
        return web.Response(status=204)
    await request.config_dict[SERVICE].delete(native)
    await name_pairs(request).release(name)
    return web.Response(status=204)


async def put_concurrency(request: web.Request) -> web.Response:
    """PutFunctionConcurrency: `ReservedConcurrentExecutions` is the function's `maxInstances` here (the most
    containers it runs at once, each serving `instanceConcurrency` calls); 0, which stops a function on Lambda,
    is refused."""
    _, native, _ = function_of(request)
    body = json_body(request)
    if set(body) - {"ReservedConcurrentExecutions"}:
        raise InvalidArgument("PutFunctionConcurrency takes only ReservedConcurrentExecutions")
    value = max_instances(body.get("ReservedConcurrentExecutions"), "ReservedConcurrentExecutions", "Lambda")
    record = await request.config_dict[SERVICE].update(native, {"maxInstances": value})
    return web.json_response({"ReservedConcurrentExecutions": record.spec.max_instances})


async def get_concurrency(request: web.Request) -> web.Response:
    _, native, _ = function_of(request)
    record = await request.config_dict[SERVICE].get(native)
    return web.json_response({"ReservedConcurrentExecutions": record.spec.max_instances})


async def delete_concurrency(request: web.Request) -> web.Response:
    """DeleteFunctionConcurrency: `maxInstances` back to the platform's default."""
    _, native, _ = function_of(request)
    await request.config_dict[SERVICE].update(native, {"maxInstances": defaults.MAX_INSTANCES})
    return web.Response(status=204)


async def invoke(request: web.Request) -> web.Response:
    """Invoke: RequestResponse (the function's answer; `X-Amz-Function-Error: Unhandled` when it failed), Event (202,
    accepted once stored), DryRun (204 once the function and qualifier resolve); `X-Amz-Log-Type: Tail` gives the
    log's tail in `X-Amz-Log-Result`; `X-Amz-Executed-Version` names the version that ran."""
    name, native, qualifier = function_of(request)
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in _INVOCATION_TYPES:
        raise InvalidArgument("X-Amz-Invocation-Type must be RequestResponse, Event or DryRun")
    log_type = request.headers.get("X-Amz-Log-Type", "None")
    if log_type not in ("None", "Tail"):
        raise InvalidArgument("X-Amz-Log-Type must be None or Tail")
    if kind == "DryRun":
        await request.config_dict[RELEASES].resolve(native, qualifier)
        return web.Response(status=204)
    answer = await platform_invoke(request.app, native, qualifier, request[BODY], asynchronous=kind == "Event",
                                   tail=log_type == "Tail")
    request_id = answer.headers["X-Fc-Request-Id"]
    if kind == "Event":
        return web.Response(status=202, headers={"x-amzn-RequestId": request_id})
    headers = {"x-amzn-RequestId": request_id, "X-Amz-Executed-Version":
               version_of(answer.headers["X-Fc-Function-Version"]),
               "Content-Type": answer.headers.get("Content-Type", "application/json")}
    if "X-Fc-Error-Type" in answer.headers:
        headers["X-Amz-Function-Error"] = "Unhandled"
    if "X-Fc-Log-Result" in answer.headers:
        headers["X-Amz-Log-Result"] = answer.headers["X-Fc-Log-Result"]
    return web.Response(status=200, body=answer.body, headers=headers)
