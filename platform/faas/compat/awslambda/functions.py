"""Lambda's functions: GetFunction, GetFunctionConfiguration and Invoke, on the platform's services."""

from __future__ import annotations

from aiohttp import web

from ...api.handlers import invoke as platform_invoke
from ...api.keys import RELEASES
from ...errors import InvalidArgument
from ...models import FunctionRecord
from ..signed import BODY
from .common import ACCOUNT_ID, function_arn, function_of, version_of

_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


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
