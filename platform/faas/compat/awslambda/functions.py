"""Lambda's functions: CreateFunction, GetFunction, GetFunctionConfiguration, UpdateFunctionCode,
UpdateFunctionConfiguration, ListFunctions, DeleteFunction, Invoke and the function's concurrency (its
`maxInstances` here), on the platform's services."""

from __future__ import annotations

import base64
import json
import re

from aiohttp import web

from ... import defaults
from ...api.invocations import invoke as platform_invoke
from ...api.keys import ASYNC, RELEASES, SERVICE
from ...errors import InvalidArgument, InvocationAlreadyExists
from ...logs.keys import PLATFORM_REQUEST_PREFIXES
from ...logs.reader import encode_tail
from ...models import FunctionRecord
from ..limits import max_instances
from ..listing import page_after
from ..names import create_named, name_pairs, native_name, surface_page
from ..signed import BODY, json_body
from .common import NAME, InvalidRequestContent, function_of, max_items, version_of
from .model import code_location, code_spec, configuration, configuration_spec, create_spec

_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_decode = json.JSONDecoder().decode
SDK_INVOCATION_ID = "amz-sdk-invocation-id"
_SDK_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


async def create_function(request: web.Request) -> web.Response:
    """CreateFunction: a Lambda-shaped Python function from Code.ZipFile (201), published at once with Publish."""
    body = json_body(request)
    name = body.get("FunctionName")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidArgument("FunctionName is 1-64 letters, digits, '-' or '_'")
    native = native_name(name)
    record = await create_named(request, name, create_spec(request, body, native, name))
    return web.json_response(configuration(request, await _published(request, record, body.get("Publish")), name),
                             status=201)


async def update_code(request: web.Request) -> web.Response:
    """UpdateFunctionCode: new code for $LATEST (a new version of it with Publish)."""
    name, native, current = await _latest(request, "UpdateFunctionCode")
    spec, publish = code_spec(json_body(request), current)
    record = await request.config_dict[SERVICE].update(native, spec)
    return web.json_response(configuration(request, await _published(request, record, publish), name))


async def update_configuration(request: web.Request) -> web.Response:
    """UpdateFunctionConfiguration: $LATEST's settings (those not named keep their values)."""
    name, native, current = await _latest(request, "UpdateFunctionConfiguration")
    record = await request.config_dict[SERVICE].update(native, configuration_spec(json_body(request), current))
    return web.json_response(configuration(request, record, name))


async def _latest(request: web.Request, call: str) -> tuple[str, str, FunctionRecord]:
    """(the Lambda name, the platform name, $LATEST's record) of the function a call that changes $LATEST names."""
    name, native, qualifier = function_of(request)
    if qualifier != defaults.LATEST:
        raise InvalidArgument(f"{call} changes $LATEST: name the function without a qualifier")
    return name, native, await request.config_dict[SERVICE].get(native)


async def _published(request: web.Request, record: FunctionRecord, publish: object) -> FunctionRecord:
    """`record` ($LATEST just made or changed), or with `publish` the version published of it."""
    if not publish:
        return record
    return (await request.config_dict[RELEASES].publish(record.name, {})).record


async def get_function(request: web.Request) -> web.Response:
    name, native, qualifier = function_of(request)
    record = await request.config_dict[RELEASES].shown(native, qualifier)
    return web.json_response({"Configuration": configuration(request, record, name),
                              "Code": code_location(record)})


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
    after = request.query.get("Marker", "")
    chosen, marker = await surface_page(request, lambda names: page_after(names, after, limit))
    body: dict = {"Functions": [configuration(request, record, n) for n, record in chosen]}
    if marker is not None:
        body["NextMarker"] = marker
    return web.json_response(body)


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
    accepted once stored, once per `amz-sdk-invocation-id`: the SDK's retry of it is the same event), DryRun (204
    once the function and qualifier resolve). The payload is JSON, as Lambda asks of every payload.
    `X-Amz-Log-Type: Tail` gives the log's tail, Lambda's way, in `X-Amz-Log-Result`; `X-Amz-Executed-Version`
    names the version that ran."""
    name, native, qualifier = function_of(request)
    headers = request.headers
    kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in _INVOCATION_TYPES:
        raise InvalidArgument("X-Amz-Invocation-Type must be RequestResponse, Event or DryRun")
    log_type = headers.get("X-Amz-Log-Type", "None")
    if log_type not in ("None", "Tail"):
        raise InvalidArgument("X-Amz-Log-Type must be None or Tail")
    payload = request[BODY]
    if payload and len(payload) <= defaults.SYNC_EVENT_BYTES:  # (a larger one is refused for its size)
        _check_json(payload)
    if kind == "DryRun":
        await request.config_dict[RELEASES].resolve(native, qualifier)
        return web.Response(status=204)
    if kind == "Event":
        request_id = await _accepted_once(request, native, qualifier, payload)
        return web.Response(status=202, headers={"x-amzn-RequestId": request_id})
    answer = await platform_invoke(request.app, native, qualifier, payload, asynchronous=False,
                                   tail=log_type == "Tail")
    reply = answer.headers  # (the platform's answer, its headers made Lambda's: no second response is made)
    request_id = reply["X-Fc-Request-Id"]
    version = version_of(reply["X-Fc-Function-Version"])
    reply["x-amzn-RequestId"] = request_id
    reply["X-Amz-Executed-Version"] = version
    if "X-Fc-Error-Type" in reply:
        reply["X-Amz-Function-Error"] = "Unhandled"
    if "X-Fc-Log-Result" in reply:
        reply["X-Amz-Log-Result"] = lambda_tail(reply.pop("X-Fc-Log-Result"), request_id, version)
    return answer


def _check_json(payload: bytes) -> None:
    try:
        _decode(payload.decode())  # (UTF-8, as Lambda asks; json.loads would first guess the encoding of bytes)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from None


async def _accepted_once(request: web.Request, native: str, qualifier: str, payload: bytes) -> str:
    """An Event invoke's request id: the SDK's invocation id when it sent one (botocore sends the same on each
    retry of a call), accepted once; a retry of an accepted one gets the same id back."""
    sdk_id = request.headers.get(SDK_INVOCATION_ID)
    if sdk_id is not None and (not _SDK_ID.fullmatch(sdk_id) or sdk_id.startswith(PLATFORM_REQUEST_PREFIXES)):
        sdk_id = None  # not an id the platform could keep: the event gets one of its own
    try:
        answer = await platform_invoke(request.app, native, qualifier, payload, asynchronous=True, request_id=sdk_id)
    except InvocationAlreadyExists:
        assert sdk_id is not None, "only a caller's id can be taken already"
        before = await request.config_dict[ASYNC].status(sdk_id)
        if before is None or before["functionName"] != native:
            raise  # another function's event has that id: this is no retry of it
        return sdk_id
    return answer.headers["X-Fc-Request-Id"]


def lambda_tail(encoded: str, request_id: str, version: str) -> str:
    """An invocation's log tail (base64: its lines, then its REPORT line) as Lambda writes it: between START and
    END lines, then REPORT; the last 4 KB of that."""
    lines = base64.b64decode(encoded).decode("utf-8", "replace").splitlines()
    report = [lines.pop()] if lines and lines[-1].startswith("REPORT ") else []
    return encode_tail([f"START RequestId: {request_id} Version: {version}", *lines, f"END RequestId: {request_id}",
                        *report])
