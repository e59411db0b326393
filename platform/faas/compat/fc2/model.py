"""FC 2.0's services and functions, and the platform's spec, each way.

A function's fields are FC 3.0's with a few moved (`initializer` and `initializationTimeout` at the top, `caPort`
beside `customContainerConfig`): they are translated into FC 3.0's shape and from there into the spec, so that the
two surfaces accept and refuse the same things (see faas.compat.fc3.model).
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import FaasError, InvalidArgument
from ...models import FunctionRecord
from ..fc3 import model as fc3
from ..names import native_name

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
QUALIFIER_DELIMITER = "."
INSTANCE_TYPE = "e1"
"""The one instance type there is here (FC 2.0's elastic instance)."""

SERVICE_EMPTY_ACCEPTED = ("role", "logConfig", "vpcConfig", "nasConfig", "tracingConfig", "ossMountConfig", "tags")
"""A service's fields the platform does not have: accepted when empty, as FC 3.0's function fields are."""


class ServiceNotFound(FaasError):
    code = "ServiceNotFound"
    status = 404


class ServiceAlreadyExists(FaasError):
    code = "ServiceAlreadyExists"
    status = 409


class ServiceNotEmpty(FaasError):
    code = "ServiceNotEmpty"
    status = 409


def pair_name(service: str, function: str) -> str:
    """The FC name the platform keeps for a function of a service (see faas.compat.names): no FC 3.0 name has a
    '/', so it is never one of theirs."""
    return f"{service}/{function}"


def platform_name(service: str, function: str) -> str:
    return native_name(pair_name(service, function))


def check_name(value: str, what: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise InvalidArgument(f"{what} must be a letter or '_', then up to 127 letters, digits, '_' or '-'")
    return value


def service_body(body: dict, creating: bool) -> dict:
    """The stored fields of a CreateService or UpdateService input: its name (when creating) and description."""
    unknown = sorted(set(body) - {"serviceName", "description", "internetAccess", *SERVICE_EMPTY_ACCEPTED})
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    for key in SERVICE_EMPTY_ACCEPTED:
        if not fc3.is_empty(body.get(key)):
            raise InvalidArgument(f"{key} is not supported by this platform (only an empty one is accepted)")
    if body.get("internetAccess") not in (None, fc3.INTERNET_ACCESS):
        raise InvalidArgument("internetAccess must be true here (function containers always reach the network)")
    if not creating and "serviceName" in body:
        raise InvalidArgument("serviceName cannot be changed")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidArgument("description must be a string")
    out: dict = {} if description is None else {"description": description}
    if creating:
        name = body.get("serviceName")
        out["serviceName"] = check_name(name, "serviceName") if isinstance(name, str) else \
            _missing("serviceName")
    return out


def _missing(field: str) -> str:
    raise InvalidArgument(f"{field} is required")


def service(stored: dict) -> dict:
    """FC 2.0's service of its stored fields."""
    return {"serviceName": stored["serviceName"], "serviceId": stored["serviceId"],
            "description": stored.get("description", ""), "role": "", "logConfig": {"project": "", "logstore": ""},
            "vpcConfig": {"vpcId": "", "vSwitchIds": [], "securityGroupId": ""},
            "nasConfig": {"userId": -1, "groupId": -1, "mountPoints": []}, "tracingConfig": {},
            "internetAccess": fc3.INTERNET_ACCESS, "createdTime": fc3.iso_time(stored["createdAt"]),
            "lastModifiedTime": fc3.iso_time(stored["updatedAt"])}


def function_body(body: dict, creating: bool) -> dict:
    """The `/v1` create or update body of an FC 2.0 CreateFunction or UpdateFunction input, by way of FC 3.0's."""
    body = dict(body)
    instance_type = body.pop("instanceType", None)
    if instance_type not in (None, "", INSTANCE_TYPE):
        raise InvalidArgument(f"instanceType must be {INSTANCE_TYPE} here (the platform has one kind of instance)")
    initializer, init_timeout = body.pop("initializer", None), body.pop("initializationTimeout", None)
    if initializer is not None or init_timeout is not None:
        if "instanceLifecycleConfig" in body:
            raise InvalidArgument("initializer and instanceLifecycleConfig cannot both be given")
        hook: dict[str, Any] = {"handler": initializer}
        if init_timeout is not None:
            hook["timeout"] = init_timeout
        body["instanceLifecycleConfig"] = {"initializer": hook if initializer else None}
    port = body.pop("caPort", None)
    if port is not None:
        if not isinstance(body.get("customContainerConfig"), dict):
            raise InvalidArgument("caPort is the port of a custom container: give customContainerConfig too")
        body["customContainerConfig"] = {**body["customContainerConfig"], "port": port}
    return fc3.spec_body(body, creating)


def function(record: FunctionRecord, fc_name: str) -> dict:
    """FC 2.0's function of a record, under its FC name."""
    out = fc3.function(record, fc_name)
    for key in ("functionArn", "state", "lastUpdateStatus", "tags", "diskSize", "internetAccess", "versionId"):
        out.pop(key, None)
    hook = out.pop("instanceLifecycleConfig", {}).get("initializer")
    out["initializer"] = hook["handler"] if hook else ""
    out["initializationTimeout"] = hook["timeout"] if hook else record.spec.init_timeout_s
    container = out.get("customContainerConfig")
    if container is not None:
        out["caPort"] = container.pop("port")
    out["instanceType"] = INSTANCE_TYPE
    return out


# -- service versions and aliases, and what a qualifier has
ACCOUNT = "platform"
"""The account id in FC's resource names and ARNs (one account here)."""

_SERVICE_FUNCTION_ARN = re.compile(r"acs:fc:[^:]*:[^:]*:services/([A-Za-z_][A-Za-z0-9_-]{0,127})(\.LATEST)?/"
                                   r"functions/([A-Za-z_][A-Za-z0-9_-]{0,127})")


def version(stored: dict) -> dict:
    """FC 2.0's service version."""
    published = fc3.iso_time(stored["createdAt"])
    return {"versionId": stored["versionId"], "description": stored["description"], "createdTime": published,
            "lastModifiedTime": published}


def provision_config(service: str, qualifier: str, fc_name: str, config: dict) -> dict:
    return {"resource": f"{ACCOUNT}#{service}#{qualifier}#{fc_name}", "target": config["target"],
            "current": config["current"], "scheduledActions": [], "targetTrackingPolicies": [],
            "alwaysAllocateCPU": True}


def async_config_body(body: dict) -> dict:
    """The `/v1` async config of a PutFunctionAsyncInvokeConfig input, by way of FC 3.0's: a destination
    function is named by its service (`acs:fc:<region>:<account>:services/<service>/functions/<function>`)."""
    body = dict(body)
    if body.pop("statefulInvocation", None) not in (None, True, False):
        raise InvalidArgument("statefulInvocation must be true or false")
    destinations = body.get("destinationConfig")
    if isinstance(destinations, dict):
        body["destinationConfig"] = {key: _fc3_destination(value, key) for key, value in destinations.items()}
    return fc3.async_config_body(body)


def _fc3_destination(target: Any, key: str) -> Any:
    if not isinstance(target, dict) or not isinstance(target.get("destination"), str) \
            or not target["destination"].startswith("acs:fc:"):
        return target
    match = _SERVICE_FUNCTION_ARN.fullmatch(target["destination"])
    if match is None:
        raise InvalidArgument(f"destinationConfig.{key}.destination must be a function's ARN "
                              "(acs:fc:<region>:<account>:services/<service>/functions/<function>) or a queue's "
                              "(acs:mns:<region>:<account>:/queues/<name>/messages)")
    return {**target, "destination": fc3.arn(platform_name(match.group(1), match.group(3)))}


def function_arn(fc_name: str) -> str:
    """The ARN of a function by its FC name (`service/function` for FC 2.0's; a platform name otherwise)."""
    service, slash, function = fc_name.partition("/")
    if slash:
        return f"acs:fc:local:{ACCOUNT}:services/{service}/functions/{function}"
    return fc3.arn(fc_name)


def async_config(service: str, qualifier: str, fc_name: str, config: dict, fc_names: dict[str, str]) -> dict:
    """FC 2.0's async config of the `/v1` one; `fc_names`: the FC name of each destination function."""
    out = fc3.async_config(platform_name(service, fc_name), config)
    for target in out["destinationConfig"].values():
        native = target["destination"].rpartition("functions/")[2]
        if target["destination"] == fc3.arn(native):
            target["destination"] = function_arn(fc_names.get(native, native))
    return {"service": service, "function": fc_name, "qualifier": qualifier, "statefulInvocation": True,
            "destinationConfig": out["destinationConfig"], "maxAsyncRetryAttempts": out["maxAsyncRetryAttempts"],
            "maxAsyncEventAgeInSeconds": out["maxAsyncEventAgeInSeconds"]}


def destination_functions(config: dict) -> list[str]:
    """The platform names of the destination functions of a `/v1` async config."""
    native = config["config"]
    return [value.partition(":")[2] for key in ("onSuccess", "onFailure")
            if isinstance(value := native.get(key), str) and value.startswith("function:")]
