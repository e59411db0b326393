"""FC 3.0's function model and the platform's spec, each way.

FC's names for the spec's fields are translated; fields the platform has no use for are accepted where FC
accepts them empty (as its SDK sends them: `"tags": []`) and refused, by name, otherwise. The README's FC
section lists both.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ... import defaults
from ...errors import InvalidArgument
from ...models import FunctionRecord
from ...releases.model import Alias, Version
from ...runtimes import CUSTOM_CONTAINER, CUSTOM_RUNTIME, NEAREST_PYTHON
from ..limits import max_instances
from ..names import native_name

FC_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
RUNTIMES = {**{f"python{v}": runtime for v, runtime in NEAREST_PYTHON.items()},
            **{f"custom.debian{n}": CUSTOM_RUNTIME for n in (10, 11, 12)}, CUSTOM_CONTAINER: CUSTOM_CONTAINER}
"""FC's runtimes -> the platform's: a Python version runs on the nearest interpreter not older than it
(faas.runtimes.NEAREST_PYTHON); FC's custom runtimes on Debian 10 and 11 run on Debian 12 (a program built for an
older glibc runs on a newer one). FC's `python3` (3.6) is refused: its code may use what 3.11 removed."""

RENAMED = {"functionName": "name", "runtime": "runtime", "handler": "handler", "description": "description",
           "memorySize": "memoryMB", "timeout": "timeoutSeconds", "environmentVariables": "environment",
           "instanceConcurrency": "instanceConcurrency"}
"""FC's field -> the spec's, for fields whose values are the same."""

EMPTY_ACCEPTED = ("role", "logConfig", "vpcConfig", "nasConfig", "ossMountConfig", "gpuConfig", "tracingConfig",
                  "customDNS", "tags", "cpu", "resourceGroupId", "sessionAffinity",
                  "sessionAffinityConfig", "instanceIsolationMode", "polarFsConfig",
                  "juiceFsConfig", "disableOndemand", "enableLongLiving", "invocationRestriction",
                  "disableInjectCredentials", "idleTimeout")
"""Fields the platform does not have: accepted when empty (null, "", [], {}, false, or an object of such)."""

_LAYER_ARN = re.compile(r"acs:fc:[a-z0-9-]*:[A-Za-z0-9_.-]*:layers/([A-Za-z0-9_-]{1,64})/versions/([1-9][0-9]{0,9})")

DISK_SIZE_MB = 512
INTERNET_ACCESS = True
"""What every function has here (FC's defaults): `diskSize` 512 and `internetAccess` true are accepted as such."""


def check_function_name(value: str) -> str:
    if not FC_NAME_RE.fullmatch(value):
        raise InvalidArgument("functionName must be a letter or '_', then up to 127 letters, digits, '_' or '-'")
    return value


def is_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    return value in (None, "", False) or value == []


def spec_body(body: dict, creating: bool) -> dict:
    """The `/v1` create or update body of a CreateFunction or UpdateFunction input."""
    known = set(RENAMED) | set(EMPTY_ACCEPTED) | {"code", "customContainerConfig", "instanceLifecycleConfig",
                                                  "diskSize", "internetAccess", "customRuntimeConfig", "layers"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    if not creating and "functionName" in body:
        raise InvalidArgument("functionName cannot be changed")
    for key in EMPTY_ACCEPTED:
        if not is_empty(body.get(key)):
            raise InvalidArgument(f"{key} is not supported by this platform (only an empty one is accepted)")
    if body.get("diskSize") not in (None, DISK_SIZE_MB):
        raise InvalidArgument(f"diskSize must be {DISK_SIZE_MB} here (functions have no disk quota of their own)")
    if body.get("internetAccess") not in (None, INTERNET_ACCESS):
        raise InvalidArgument("internetAccess must be true here (function containers always reach the network)")
    spec = {RENAMED[k]: v for k, v in body.items() if k in RENAMED}
    if "runtime" in spec:
        runtime = spec["runtime"]
        if runtime not in RUNTIMES:
            raise InvalidArgument(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r} (the platform "
                                  "runs Python functions on Python 3.11 and 3.13)")
        spec["runtime"] = RUNTIMES[runtime]
    if "name" in spec:
        spec["name"] = check_function_name(spec["name"]) if isinstance(spec["name"], str) else None
    if "code" in body:
        spec["code"] = _code(body["code"])
    if body.get("layers") is not None:
        if not isinstance(body["layers"], list):
            raise InvalidArgument("layers must be a list of layer versions' ARNs")
        spec["layers"] = [ref_of_arn(a) for a in body["layers"]]
    if body.get("customRuntimeConfig") is not None:
        spec["customRuntimeConfig"] = _custom_runtime(body["customRuntimeConfig"])
    if body.get("customContainerConfig") is not None:
        spec["customContainer"] = _custom_container(body["customContainerConfig"])
    if body.get("instanceLifecycleConfig") is not None:
        spec |= _lifecycle(body["instanceLifecycleConfig"])
    return spec


def _code(code: Any) -> dict:
    if not isinstance(code, dict):
        raise InvalidArgument("code must be an object with zipFile (a base64 zip)")
    if code.get("ossBucketName") or code.get("ossObjectName"):
        raise InvalidArgument("code.ossBucketName and code.ossObjectName are not supported: send code.zipFile")
    unknown = sorted(set(code) - {"zipFile", "checksum", "ossBucketName", "ossObjectName"})
    if unknown:
        raise InvalidArgument(f"unknown field(s) in code: {', '.join(unknown)}")
    return {"zipFile": code.get("zipFile")}


def _custom_runtime(config: Any) -> dict:
    if not isinstance(config, dict):
        raise InvalidArgument("customRuntimeConfig must be an object")
    unknown = sorted(set(config) - {"command", "args", "port", "healthCheckConfig"})
    if unknown:
        raise InvalidArgument(f"unknown field(s) in customRuntimeConfig: {', '.join(unknown)}")
    if not is_empty(config.get("healthCheckConfig")):
        raise InvalidArgument("customRuntimeConfig.healthCheckConfig is not supported by this platform (a runtime is "
                              "ready once it listens on its port)")
    return {k: config[k] for k in ("command", "args", "port") if k in config}


def _custom_container(config: Any) -> dict:
    if not isinstance(config, dict):
        raise InvalidArgument("customContainerConfig must be an object")
    unknown = sorted(set(config) - {"image", "command", "entrypoint", "port", "accelerationType",
                                    "acrInstanceId", "healthCheckConfig", "registryConfig", "resolvedImageUri"})
    if unknown:
        raise InvalidArgument(f"unknown field(s) in customContainerConfig: {', '.join(unknown)}")
    for key in ("accelerationType", "acrInstanceId", "healthCheckConfig", "registryConfig"):
        if not is_empty(config.get(key)):
            raise InvalidArgument(f"customContainerConfig.{key} is not supported by this platform")
    out: dict = {"image": config.get("image")}
    command = (config.get("entrypoint") or []) + (config.get("command") or []) \
        if isinstance(config.get("entrypoint") or [], list) and isinstance(config.get("command") or [], list) \
        else None
    if command is None:
        raise InvalidArgument("customContainerConfig.entrypoint and .command must be lists of strings")
    if command:
        out["command"] = command
    if config.get("port") is not None:
        out["port"] = config["port"]
    return out


def _lifecycle(config: Any) -> dict:
    if not isinstance(config, dict) or set(config) - {"initializer", "preStop"}:
        raise InvalidArgument("instanceLifecycleConfig must be an object with initializer (and an empty preStop)")
    if not is_empty(config.get("preStop")):
        raise InvalidArgument("instanceLifecycleConfig.preStop is not supported by this platform")
    hook = config.get("initializer")
    if is_empty(hook):
        return {"initializer": None}
    if not isinstance(hook, dict) or set(hook) - {"handler", "timeout", "command"} or hook.get("command"):
        raise InvalidArgument("instanceLifecycleConfig.initializer must be an object with handler and timeout")
    out = {"initializer": hook.get("handler")}
    if hook.get("timeout") is not None:
        out["initializationTimeoutSeconds"] = hook["timeout"]
    return out


def ref_of_arn(arn: Any) -> str:
    """The `name:version` a layer ARN names (`acs:fc:<region>:<account>:layers/<name>/versions/<version>`)."""
    found = _LAYER_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if found is None:
        raise InvalidArgument(f"layers: {arn!r} is not a layer version's ARN "
                              "(acs:fc:<region>:<account>:layers/<name>/versions/<version>)")
    return f"{native_name(found.group(1))}:{found.group(2)}"


def layer_arn(ref: str) -> str:
    """The ARN of the layer version `name:version`."""
    name, _, version = ref.rpartition(":")
    return f"acs:fc:local:platform:layers/{name}/versions/{version}"


def arns(refs: tuple[str, ...]) -> list[dict]:
    """A function's `layers` as FC shows them."""
    return [{"arn": layer_arn(ref)} for ref in refs]



def iso_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def arn(name: str) -> str:
    return f"acs:fc:local:platform:functions/{name}"


def function(record: FunctionRecord, fc_name: str) -> dict:
    """FC 3.0's Function of a record, under its FC name."""
    spec = record.spec
    out: dict = {
        "functionName": fc_name, "functionId": record.function_id, "functionArn": arn(fc_name),
        "runtime": spec.runtime, "handler": spec.handler, "description": spec.description,
        "memorySize": spec.memory_mb, "timeout": spec.timeout_s, "environmentVariables": dict(spec.environment),
        "instanceConcurrency": spec.instance_concurrency, "diskSize": DISK_SIZE_MB,
        "internetAccess": INTERNET_ACCESS, "codeChecksum": record.code_sha256 or "",
        "createdTime": iso_time(record.created_at), "lastModifiedTime": iso_time(record.updated_at),
        "state": "Active", "lastUpdateStatus": "Successful", "tags": [], "layers": arns(spec.layers),
    }
    if spec.initializer:
        out["instanceLifecycleConfig"] = {"initializer": {"handler": spec.initializer,
                                                          "timeout": spec.init_timeout_s}}
    if spec.custom_runtime is not None:
        out["customRuntimeConfig"] = {k: v for k, v in spec.custom_runtime.to_api().items() if v is not None}
    if spec.custom_container is not None:
        cc = spec.custom_container
        out["customContainerConfig"] = {"image": cc.image, "port": cc.port,
                                        **({"command": list(cc.command)} if cc.command else {})}
    if record.version_id != defaults.LATEST:
        out["versionId"] = record.version_id
    return out


def version(version: Version) -> dict:
    """FC 3.0's Version."""
    published = iso_time(version.created_at)
    return {"versionId": version.id, "description": version.description, "createdTime": published,
            "lastModifiedTime": published}


def alias_body(body: dict) -> dict:
    """The `/v1` alias body of a CreateAlias or UpdateAlias input (the same names; the weights' values are
    FC's floats)."""
    unknown = sorted(set(body) - {"aliasName", "versionId", "description", "additionalVersionWeight"})
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    return dict(body)


def alias(alias: Alias) -> dict:
    """FC 3.0's Alias."""
    api = alias.to_api()
    return {"aliasName": api["aliasName"], "versionId": api["versionId"], "description": api["description"],
            "additionalVersionWeight": api["additionalVersionWeight"], "createdTime": iso_time(alias.created_at),
            "lastModifiedTime": iso_time(alias.updated_at)}


_FUNCTION_ARN = re.compile(r"acs:fc:[^:]*:[^:]*:functions/([a-z][a-z0-9-]{0,62})")
_QUEUE_ARN = re.compile(r"acs:mns:[^:]*:[^:]*:/queues/([a-z][a-z0-9-]{0,62})/messages")


def queue_arn(name: str) -> str:
    return f"acs:mns:local:platform:/queues/{name}/messages"


def _destination(value: Any, key: str) -> str | None:
    """A destination ARN as the platform's `function:<name>` or `queue:<name>`."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if (match := _FUNCTION_ARN.fullmatch(value)) is not None:
            return f"function:{match.group(1)}"
        if (match := _QUEUE_ARN.fullmatch(value)) is not None:
            return f"queue:{match.group(1)}"
    raise InvalidArgument(f"{key} must be a function's ARN (acs:fc:<region>:<account>:functions/<name>) or a "
                          "queue's (acs:mns:<region>:<account>:/queues/<name>/messages), with a platform name")


def _arn_of(destination: str | None) -> str | None:
    if not destination:
        return None
    kind, _, name = destination.partition(":")
    return arn(name) if kind == "function" else queue_arn(name)


def async_config_body(body: dict) -> dict:
    """The `/v1` async config of a PutAsyncInvokeConfig input."""
    unknown = sorted(set(body) - {"asyncTask", "destinationConfig", "maxAsyncEventAgeInSeconds",
                                  "maxAsyncRetryAttempts"})
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    out: dict = {}
    if body.get("maxAsyncRetryAttempts") is not None:
        out["retries"] = body["maxAsyncRetryAttempts"]
    if body.get("maxAsyncEventAgeInSeconds") is not None:
        out["maxEventAgeSeconds"] = body["maxAsyncEventAgeInSeconds"]
    destinations = body.get("destinationConfig") or {}
    if not isinstance(destinations, dict) or set(destinations) - {"onSuccess", "onFailure"}:
        raise InvalidArgument("destinationConfig must be an object with onSuccess and onFailure")
    for key in ("onSuccess", "onFailure"):
        target = destinations.get(key) or {}
        if not isinstance(target, dict) or set(target) - {"destination"}:
            raise InvalidArgument(f"destinationConfig.{key} must be an object with destination")
        out[key] = _destination(target.get("destination"), f"destinationConfig.{key}.destination")
    return out


def async_config(name: str, config: dict) -> dict:
    """FC 3.0's AsyncConfig of the `/v1` one (every async invocation is a task here: asyncTask is true)."""
    native = config["config"]
    destinations = {key: {"destination": arn_} for key in ("onSuccess", "onFailure")
                    if (arn_ := _arn_of(native.get(key)))}
    return {"functionArn": arn(name), "asyncTask": True, "maxAsyncRetryAttempts": native["retries"],
            "maxAsyncEventAgeInSeconds": native.get("maxEventAgeSeconds"), "destinationConfig": destinations}


def provision_target(body: dict) -> int:
    """The `target` of a PutProvisionConfig input (its `defaultTarget` when it has none)."""
    unknown = sorted(set(body) - {"target", "defaultTarget", "scheduledActions", "targetTrackingPolicies",
                                  "alwaysAllocateCPU", "alwaysAllocateGPU"})
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    for key in ("scheduledActions", "targetTrackingPolicies", "alwaysAllocateGPU"):
        if not is_empty(body.get(key)):
            raise InvalidArgument(f"{key} is not supported by this platform (only an empty one is accepted)")
    target = body.get("target", body.get("defaultTarget"))
    if target is None:
        raise InvalidArgument("target (or defaultTarget) is required")
    return target


def provision_config(name: str, config: dict) -> dict:
    """FC 3.0's ProvisionConfig of the `/v1` one (reserved containers always have their CPU here)."""
    return {"functionArn": arn(name), "target": config["target"], "defaultTarget": config["target"],
            "current": config["current"], "alwaysAllocateCPU": True, "scheduledActions": [],
            "targetTrackingPolicies": []}


_TRIGGER_EMPTY = {"http": ("disableURLInternet", "authConfig", "corsConfig")}
"""Keys of FC's trigger configs the platform does not have, accepted empty."""


def trigger_body(body: dict, creating: bool) -> dict:
    """The `/v1` trigger body of a CreateTrigger or UpdateTrigger input (`triggerConfig` a JSON string)."""
    unknown = sorted(set(body) - {"triggerName", "triggerType", "triggerConfig", "description", "qualifier",
                                  "sourceArn", "invocationRole"})
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    for key in ("sourceArn", "invocationRole"):
        if not is_empty(body.get(key)):
            raise InvalidArgument(f"{key} is not supported by this platform (only an empty one is accepted)")
    out = {k: v for k, v in body.items() if k in ("triggerName", "triggerType", "description", "qualifier")
           and v is not None}
    if body.get("triggerConfig") is not None:
        raw = body["triggerConfig"]
        try:
            config = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise InvalidArgument("triggerConfig must be a JSON object, as a string") from None
        if not isinstance(config, dict):
            raise InvalidArgument("triggerConfig must be a JSON object, as a string")
        for key in _TRIGGER_EMPTY.get(body.get("triggerType", ""), ()):
            if not is_empty(config.pop(key, None)):
                raise InvalidArgument(f"triggerConfig.{key} is not supported by this platform")
        out["triggerConfig"] = config
    elif creating and body.get("triggerType") == "http":
        out["triggerConfig"] = {}
    return out


def trigger(described: dict, base_url: str, fc_name: str) -> dict:
    """FC 3.0's Trigger of the `/v1` one (its config as a JSON string, as FC's)."""
    out = {"triggerName": described["triggerName"], "triggerType": described["triggerType"],
           "triggerConfig": json.dumps(described["triggerConfig"]), "triggerId": described["triggerId"],
           "description": described["description"], "qualifier": described["qualifier"],
           "createdTime": iso_time(described["createdAt"]), "lastModifiedTime": iso_time(described["updatedAt"]),
           "status": "Enabled", "targetArn": arn(fc_name)}
    if described["triggerType"] == "http":
        url = base_url + described["urlPath"]
        out["httpTrigger"] = {"urlInternet": url, "urlIntranet": url}
    return out


def reserved_concurrency(body: dict) -> int:
    """A PutConcurrencyConfig input's `reservedConcurrency`: the function's `maxInstances` here."""
    if set(body) - {"reservedConcurrency"}:
        raise InvalidArgument("PutConcurrencyConfig takes only reservedConcurrency")
    return max_instances(body.get("reservedConcurrency"), "reservedConcurrency", "FC")


def concurrency_config(fc_name: str, record: FunctionRecord) -> dict:
    return {"functionArn": arn(fc_name), "reservedConcurrency": record.spec.max_instances}


TASK_STATUSES = {"queued": "Enqueued", "running": "Running", "retrying": "Retrying", "stopping": "Stopping",
                 "succeeded": "Succeeded", "failed": "Failed", "stopped": "Stopped"}
"""The platform's async statuses by FC's names for them."""


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _started(record: dict) -> float | None:
    """When an async task started: its first attempt, or its acceptance (seconds)."""
    return record.get("startedAt") or record.get("acceptedAt")


def started_ms(record: dict) -> int | None:
    """An async task's startedTime."""
    return _ms(_started(record))


def async_task(fc_name: str, record: dict) -> dict:
    """FC 3.0's AsyncTask of an async invocation's record (its request id is the task's id)."""
    started = _started(record)
    ended = record.get("endedAt")
    out = {"taskId": record["requestId"], "requestId": record["requestId"], "functionArn": arn(fc_name),
           "qualifier": record["qualifier"], "status": TASK_STATUSES.get(record["status"], record["status"]),
           "startedTime": _ms(started), "endTime": _ms(ended),
           "durationMs": _ms(ended - started) if ended is not None and started is not None else None,
           "alreadyRetriedTimes": max(0, record["attempts"] - 1), "events": []}
    if record.get("lastError") and record["status"] == "failed":
        out["taskErrorMessage"] = record["lastError"].get("errorMessage")
    if record.get("result") is not None:
        out["returnPayload"] = record["result"]
    return out
