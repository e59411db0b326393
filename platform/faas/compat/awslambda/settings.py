"""Lambda's per-qualifier settings on the platform's: event invoke configs (its async settings), provisioned
concurrency (its reserved containers) and function URLs (its HTTP trigger).

Destinations are the platform's: a function's ARN (`arn:aws:lambda:<region>:000000000000:function:<name>`) names
one of its functions, an SQS queue's (`arn:aws:sqs:<region>:000000000000:<queue>`) one of its queues. A function
URL is the function's HTTP trigger, named FUNCTION_URL: with AuthType NONE anyone may call it; the function is
called with Lambda's function URL event when it is Lambda-shaped.
"""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web

from ... import defaults
from ...api.keys import RELEASES, SERVICE, TRIGGERS
from ...errors import InvalidArgument, TriggerAlreadyExists, TriggerNotFound
from ...triggers.model import Trigger
from ..names import name_pairs, native_name
from ..signed import base_url, json_body
from .common import ACCOUNT_ID, NAME, ResourceNotFound, function_arn, function_of, lambda_time, region, version_of
from .releases import all_versions

MAX_RETRY_ATTEMPTS = 2
"""Lambda's most retries of an async event (the platform's own allow more; this surface keeps Lambda's bound)."""
EVENT_AGE_RANGE_S = (60, 21600)
FUNCTION_URL = "function-url"
"""The name of the HTTP trigger a function URL is."""
_FUNCTION = re.compile(rf"arn:aws:lambda:[a-z0-9-]{{1,32}}:{ACCOUNT_ID}:function:({NAME.pattern})")
_QUEUE = re.compile(rf"arn:aws:sqs:[a-z0-9-]{{1,32}}:{ACCOUNT_ID}:([a-z][a-z0-9-]{{0,62}})")


# -- event invoke configs
def _destination(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"Destination"}:
        raise InvalidArgument(f"DestinationConfig.{key} must be an object with Destination")
    arn = value.get("Destination")
    if arn is None or arn == "":
        return None
    if isinstance(arn, str):
        if (match := _FUNCTION.fullmatch(arn)) is not None:
            return f"function:{native_name(match.group(1))}"
        if (match := _QUEUE.fullmatch(arn)) is not None:
            return f"queue:{match.group(1)}"
    raise InvalidArgument(f"DestinationConfig.{key}.Destination must be the ARN of one of this platform's functions "
                          f"(arn:aws:lambda:<region>:{ACCOUNT_ID}:function:<name>) or queues "
                          f"(arn:aws:sqs:<region>:{ACCOUNT_ID}:<queue>)")


def _arn_of(request: web.Request, destination: str | None, names: dict[str, str]) -> dict:
    if not destination:
        return {}
    kind, _, name = destination.partition(":")
    if kind == "function":
        return {"Destination": function_arn(request, names.get(name, name))}
    return {"Destination": f"arn:aws:sqs:{region(request)}:{ACCOUNT_ID}:{name}"}


def _event_config_body(body: dict) -> dict:
    """The `/v1` async config (the part a Lambda input names) of a Put or UpdateFunctionEventInvokeConfig input."""
    unknown = sorted(set(body) - {"MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"})
    if unknown:
        raise InvalidArgument(f"an event invoke config does not take {', '.join(unknown)}")
    out: dict = {}
    for key, field, (low, high) in (("MaximumRetryAttempts", "retries", (0, MAX_RETRY_ATTEMPTS)),
                                    ("MaximumEventAgeInSeconds", "maxEventAgeSeconds", EVENT_AGE_RANGE_S)):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidArgument(f"{key} must be a whole number from {low} to {high}")
        out[field] = value
    destinations = body.get("DestinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict) or set(destinations) - {"OnSuccess", "OnFailure"}:
            raise InvalidArgument("DestinationConfig must be an object with OnSuccess and OnFailure")
        out["onSuccess"] = _destination(destinations.get("OnSuccess"), "OnSuccess")
        out["onFailure"] = _destination(destinations.get("OnFailure"), "OnFailure")
    return out


async def _event_config(request: web.Request, name: str, native: str, qualifier: str, config: dict) -> dict:
    native_config = config["config"]
    targets = [d.partition(":")[2] for d in (native_config.get("onSuccess"), native_config.get("onFailure"))
               if d and d.startswith("function:")]
    names = await name_pairs(request).fc_names(targets)
    return {"LastModified": time.time(), "FunctionArn": function_arn(request, name, version_of(qualifier)),
            "MaximumRetryAttempts": native_config["retries"],
            "MaximumEventAgeInSeconds": native_config.get("maxEventAgeSeconds") or EVENT_AGE_RANGE_S[1],
            "DestinationConfig": {"OnSuccess": _arn_of(request, native_config.get("onSuccess"), names),
                                  "OnFailure": _arn_of(request, native_config.get("onFailure"), names)}}


async def put_event_config(request: web.Request) -> web.Response:
    """PutFunctionEventInvokeConfig: the qualifier's async settings, those not named back to the defaults (Lambda's
    2 retries and 6 hours; no destination)."""
    name, native, qualifier = function_of(request)
    body = {"retries": MAX_RETRY_ATTEMPTS, "maxEventAgeSeconds": EVENT_AGE_RANGE_S[1], "onSuccess": None,
            "onFailure": None} | _event_config_body(json_body(request))
    config = await request.config_dict[RELEASES].put_async_config(native, qualifier, body)
    return web.json_response(await _event_config(request, name, native, qualifier, config))


async def update_event_config(request: web.Request) -> web.Response:
    """UpdateFunctionEventInvokeConfig: the settings named change, the others keep their values."""
    name, native, qualifier = function_of(request)
    releases = request.config_dict[RELEASES]
    current = (await releases.get_async_config(native, qualifier))["config"]
    config = await releases.put_async_config(native, qualifier, current | _event_config_body(json_body(request)))
    return web.json_response(await _event_config(request, name, native, qualifier, config))


async def get_event_config(request: web.Request) -> web.Response:
    """GetFunctionEventInvokeConfig: the settings the qualifier's async events run with (the platform's defaults
    when none were put)."""
    name, native, qualifier = function_of(request)
    config = await request.config_dict[RELEASES].get_async_config(native, qualifier)
    return web.json_response(await _event_config(request, name, native, qualifier, config))


async def list_event_configs(request: web.Request) -> web.Response:
    """ListFunctionEventInvokeConfigs: $LATEST's, then those of each version and alias that has its own."""
    name, native, _ = function_of(request)
    releases = request.config_dict[RELEASES]
    configs = [await _event_config(request, name, native, defaults.LATEST,
                                   await releases.get_async_config(native, defaults.LATEST))]
    for qualifier in await _qualifiers(request, native):
        config = await releases.get_async_config(native, qualifier)
        if config["source"] == "qualifier":
            configs.append(await _event_config(request, name, native, qualifier, config))
    return web.json_response({"FunctionEventInvokeConfigs": configs})


async def delete_event_config(request: web.Request) -> web.Response:
    _, native, qualifier = function_of(request)
    await request.config_dict[RELEASES].delete_async_config(native, qualifier)
    return web.Response(status=204)


# -- provisioned concurrency
def _published(qualifier: str) -> str:
    if qualifier == defaults.LATEST:
        raise InvalidArgument("Provisioned Concurrency Configs cannot be applied to unpublished function versions: "
                              "name a version or an alias in Qualifier")
    return qualifier


def _provisioned(config: dict) -> dict:
    target, current = config["target"], config["current"]
    return {"RequestedProvisionedConcurrentExecutions": target,
            "AvailableProvisionedConcurrentExecutions": current,
            "AllocatedProvisionedConcurrentExecutions": current,
            "Status": "READY" if current >= target else "IN_PROGRESS", "LastModified": lambda_time(time.time())}


async def put_provisioned(request: web.Request) -> web.Response:
    """PutProvisionedConcurrencyConfig: the version's (or alias's) reserved containers, started at once (202)."""
    _, native, qualifier = function_of(request)
    body = json_body(request)
    if set(body) - {"ProvisionedConcurrentExecutions"}:
        raise InvalidArgument("PutProvisionedConcurrencyConfig takes only ProvisionedConcurrentExecutions")
    target = body.get("ProvisionedConcurrentExecutions")
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise InvalidArgument("ProvisionedConcurrentExecutions must be a whole number of at least 1")
    config = await request.config_dict[RELEASES].put_provision(native, _published(qualifier), {"target": target})
    return web.json_response(_provisioned(config), status=202)


async def get_provisioned(request: web.Request) -> web.Response:
    """GetProvisionedConcurrencyConfig, or with `List=ALL` ListProvisionedConcurrencyConfigs."""
    name, native, qualifier = function_of(request)
    releases = request.config_dict[RELEASES]
    if request.query.get("List") == "ALL":
        configs = []
        for alias_or_version in await _qualifiers(request, native):
            config = await releases.get_provision(native, alias_or_version)
            if config["target"]:
                configs.append({"FunctionArn": function_arn(request, name, alias_or_version)} | _provisioned(config))
        return web.json_response({"ProvisionedConcurrencyConfigs": configs})
    config = await releases.get_provision(native, _published(qualifier))
    if not config["target"]:
        raise ResourceNotFound(f"No Provisioned Concurrency Config found for this function: {name}:{qualifier}")
    return web.json_response(_provisioned(config))


async def _qualifiers(request: web.Request, native: str) -> list[str]:
    versions = [v.id for v in await all_versions(request, native)]
    return versions + [a.name for a in await request.config_dict[RELEASES].list_aliases(native)]


async def delete_provisioned(request: web.Request) -> web.Response:
    _, native, qualifier = function_of(request)
    await request.config_dict[RELEASES].put_provision(native, _published(qualifier), {"target": 0})
    return web.Response(status=204)


# -- function URLs
def _url_body(body: dict) -> dict:
    """The `/v1` HTTP trigger config of a Create or UpdateFunctionUrlConfig input."""
    unknown = sorted(set(body) - {"AuthType", "Cors", "InvokeMode"})
    if unknown:
        raise InvalidArgument(f"a function URL config does not take {', '.join(unknown)}")
    if body.get("AuthType", "NONE") != "NONE":
        raise InvalidArgument("AuthType must be NONE here (AWS_IAM would sign each call with SigV4: use Invoke for "
                              "signed calls)")
    if body.get("Cors") not in (None, {}):
        raise InvalidArgument("Cors is not supported by this platform (only an empty one is accepted)")
    if body.get("InvokeMode", "BUFFERED") != "BUFFERED":
        raise InvalidArgument("InvokeMode must be BUFFERED here")
    return {"authType": "anonymous", "methods": list(defaults.HTTP_METHODS)}


async def _url_config(request: web.Request, name: str, trigger: Trigger) -> dict:
    described = await request.config_dict[TRIGGERS].describe(trigger)
    qualifier = None if trigger.qualifier == defaults.LATEST else trigger.qualifier
    return {"FunctionUrl": base_url(request) + described["urlPath"] + "/",
            "FunctionArn": function_arn(request, name, qualifier), "AuthType": "NONE", "Cors": {},
            "CreationTime": lambda_time(trigger.created_at), "LastModifiedTime": lambda_time(trigger.updated_at),
            "InvokeMode": "BUFFERED"}


async def _function_url(request: web.Request, native: str) -> Trigger | None:
    """The function's URL (its trigger named FUNCTION_URL), None when it has none."""
    return next((t for t in await request.config_dict[TRIGGERS].list(native) if t.name == FUNCTION_URL), None)


async def _url_trigger(request: web.Request, native: str, qualifier: str) -> Trigger:
    trigger = await _function_url(request, native)
    if trigger is None or trigger.qualifier != qualifier:
        raise TriggerNotFound(f"the function has no URL for {version_of(qualifier)}")
    return trigger


async def create_url(request: web.Request) -> web.Response:
    """CreateFunctionUrlConfig: the function's HTTP trigger (one per function here, for the Qualifier named)."""
    name, native, qualifier = function_of(request)
    config = _url_body(json_body(request))
    record = await request.config_dict[SERVICE].get(native)
    triggers = request.config_dict[TRIGGERS]
    if await triggers.http_trigger(native) is not None:
        raise TriggerAlreadyExists(f"the function {name} has a URL (or an HTTP trigger) already")
    trigger = await triggers.create(record, {"triggerName": FUNCTION_URL, "triggerType": "http",
                                             "triggerConfig": config, "qualifier": qualifier})
    return web.json_response(await _url_config(request, name, trigger), status=201)


async def get_url(request: web.Request) -> web.Response:
    name, native, qualifier = function_of(request)
    return web.json_response(await _url_config(request, name, await _url_trigger(request, native, qualifier)))


async def update_url(request: web.Request) -> web.Response:
    name, native, qualifier = function_of(request)
    config = _url_body(json_body(request))
    current = await _url_trigger(request, native, qualifier)
    record = await request.config_dict[SERVICE].get(native)
    trigger = await request.config_dict[TRIGGERS].update(record, current.name, {"triggerConfig": config})
    return web.json_response(await _url_config(request, name, trigger))


async def delete_url(request: web.Request) -> web.Response:
    _, native, qualifier = function_of(request)
    await _url_trigger(request, native, qualifier)
    await request.config_dict[TRIGGERS].delete(native, FUNCTION_URL)
    return web.Response(status=204)


async def list_urls(request: web.Request) -> web.Response:
    name, native, _ = function_of(request)
    trigger = await _function_url(request, native)
    return web.json_response({"FunctionUrlConfigs": [await _url_config(request, name, trigger)] if trigger else []})

