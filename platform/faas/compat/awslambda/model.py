"""Lambda's function model and the platform's spec, each way.

A function made through this surface is Lambda-shaped (`handlerType: lambda`): its handler is called as Lambda's
Python runtime calls one. Lambda's reserved environment variables are the platform's to set: the surface keeps
AWS_LAMBDA_FUNCTION_NAME (the Lambda name, which may not be the platform name) and AWS_REGION (the region the
function was made in) in the function's environment, refuses them from callers and leaves them out of what it
shows. Fields the platform has no use for are accepted where Lambda's own defaults give them, refused by name
otherwise; the README's Lambda section lists both.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ... import defaults
from ...errors import InvalidArgument
from ...models import CustomContainer, FunctionRecord
from ...runtimes import CUSTOM_CONTAINER, NEAREST_PYTHON, nearest
from .common import ACCOUNT_ID, function_arn, lambda_time, region, version_of
from .layers import function_layers, ref_of_arn

PYTHON_RUNTIMES = tuple(f"python{v}" for v in NEAREST_PYTHON)
"""Lambda's Python runtimes: each runs on the nearest interpreter of the platform not older than it
(faas.runtimes.NEAREST_PYTHON)."""
DEFAULT_TIMEOUT_S = 3
"""Lambda's default Timeout (the platform's own is 60 s)."""
HANDLER_TYPE = "lambda"
RESERVED = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"})
"""Lambda's reserved environment variables: a caller may not set them (Lambda refuses them too)."""
KEPT = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION")
"""The reserved variables the surface keeps in a function's environment itself."""

_RENAMED = {"Handler": "handler", "Description": "description", "Timeout": "timeoutSeconds",
            "MemorySize": "memoryMB"}
"""Lambda's field -> the spec's, for fields whose values are the same."""
_DEFAULTS_ACCEPTED: dict[str, Any] = {
    "Role": None, "VpcConfig": {}, "DeadLetterConfig": {}, "KMSKeyArn": "", "TracingConfig": {"Mode": "PassThrough"},
    "Tags": {}, "FileSystemConfigs": [], "CodeSigningConfigArn": "", "Architectures": ["x86_64"],
    "EphemeralStorage": {"Size": 512}, "SnapStart": {"ApplyOn": "None"}, "LoggingConfig": {}, "RevisionId": None}
"""Fields the platform does not have, accepted when they ask what every function has here (Role is any: no IAM)."""
_CREATE = {"FunctionName", "Runtime", "Code", "Publish", "PackageType", "Environment", "ImageConfig", "Layers",
           *_RENAMED, *_DEFAULTS_ACCEPTED}
_CONFIGURATION = {"Runtime", "Environment", "ImageConfig", "Layers", *_RENAMED, *_DEFAULTS_ACCEPTED}
_CODE = {"ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri", "Publish", "DryRun", "RevisionId",
         "Architectures", "SourceKMSKeyArn"}


def _unknown(body: dict, known: set[str], call: str) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidArgument(f"{call} does not take {', '.join(unknown)} here")


def _defaults_only(body: dict) -> None:
    for key, accepted in _DEFAULTS_ACCEPTED.items():
        value = body.get(key)
        if value is None or accepted is None or value == accepted or value in ({}, [], ""):
            continue
        if key == "LoggingConfig" and isinstance(value, dict) and value.get("LogFormat", "Text") == "Text" \
                and set(value) <= {"LogFormat", "LogGroup"}:
            continue
        raise InvalidArgument(f"{key} is not supported by this platform (only what Lambda gives by default is "
                              "accepted)")


def _runtime(value: Any) -> str:
    runtime = nearest(value) if isinstance(value, str) else None
    if runtime is None:
        raise InvalidArgument(f"Runtime must be one of {', '.join(PYTHON_RUNTIMES)} (the platform runs Python "
                              f"functions on Python 3.11 and 3.13), not {value!r}")
    return runtime


def _environment(body: dict, kept: dict[str, str]) -> dict[str, str]:
    environment = body.get("Environment")
    if environment is None:
        variables: Any = {}
    elif not isinstance(environment, dict) or set(environment) - {"Variables"}:
        raise InvalidArgument("Environment must be an object with Variables")
    else:
        variables = environment.get("Variables") or {}
    if not isinstance(variables, dict):
        raise InvalidArgument("Environment.Variables must be an object of strings")
    reserved = sorted(RESERVED & set(variables))
    if reserved:
        raise InvalidArgument("Lambda was unable to configure your environment variables because the environment "
                              "variables you have provided contains reserved keys that are currently not supported "
                              f"for modification. Reserved keys used in this request: {', '.join(reserved)}")
    return variables | kept


def _code(code: Any, package_type: str) -> dict:
    """The spec's code (a Zip's `code`, an Image's `customContainer`) of a Code input."""
    if not isinstance(code, dict):
        raise InvalidArgument("Code must be an object with ZipFile (or ImageUri)")
    _unknown(code, {"ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri", "SourceKMSKeyArn"}, "Code")
    if code.get("S3Bucket") or code.get("S3Key") or code.get("S3ObjectVersion") or code.get("SourceKMSKeyArn"):
        raise InvalidArgument("code in S3 is not supported by this platform: send Code.ZipFile (or Code.ImageUri)")
    if package_type == "Image":
        if code.get("ZipFile") is not None or not isinstance(code.get("ImageUri"), str):
            raise InvalidArgument("an Image function's Code is ImageUri, an image on the platform's hosts")
        return {"image": code["ImageUri"]}
    if code.get("ImageUri") is not None:
        raise InvalidArgument("Code.ImageUri is for PackageType Image")
    if not isinstance(code.get("ZipFile"), str) or not code["ZipFile"]:
        raise InvalidArgument("Code.ZipFile is required (a zip, base64-encoded in the JSON body)")
    return {"zipFile": code["ZipFile"]}


def _image_config(body: dict, image: dict) -> dict:
    """An Image function's customContainer: Lambda's protocol, and ImageConfig's EntryPoint and Command (the
    image's own when it names none)."""
    config = body.get("ImageConfig") or {}
    if not isinstance(config, dict):
        raise InvalidArgument("ImageConfig must be an object with EntryPoint and Command")
    _unknown(config, {"EntryPoint", "Command", "WorkingDirectory"}, "ImageConfig")
    if config.get("WorkingDirectory"):
        raise InvalidArgument("ImageConfig.WorkingDirectory is not supported by this platform: set WORKDIR in the "
                              "image")
    parts = [config.get("EntryPoint") or [], config.get("Command") or []]
    if not all(isinstance(p, list) and all(isinstance(c, str) for c in p) for p in parts):
        raise InvalidArgument("ImageConfig.EntryPoint and ImageConfig.Command must be lists of strings")
    command = parts[0] + parts[1]
    return {"customContainer": {**image, "protocol": "lambda", **({"command": command} if command else {})}}


def _package(body: dict) -> dict:
    """The spec's runtime, handler and code of a CreateFunction input, by its PackageType."""
    package_type = body.get("PackageType", "Zip")
    if package_type not in ("Zip", "Image"):
        raise InvalidArgument("PackageType must be Zip or Image")
    code = _code(body.get("Code"), package_type)
    if package_type == "Image":
        if body.get("Runtime") is not None or body.get("Handler") is not None:
            raise InvalidArgument("an Image function has no Runtime or Handler: its image's command runs it")
        return {"runtime": CUSTOM_CONTAINER, **_image_config(body, code)}
    if body.get("ImageConfig"):
        raise InvalidArgument("ImageConfig is for PackageType Image")
    if body.get("Runtime") is None or body.get("Handler") is None:
        raise InvalidArgument("Runtime and Handler are required for a Zip function")
    return {"runtime": _runtime(body["Runtime"]), "handlerType": HANDLER_TYPE, "code": code}


def create_spec(request: web.Request, body: dict, native: str, name: str) -> dict:
    """The `/v1` create body of a CreateFunction input, for the function whose Lambda name is `name`."""
    _unknown(body, _CREATE, "CreateFunction")
    _defaults_only(body)
    if not isinstance(body.get("Publish", False), bool):
        raise InvalidArgument("Publish must be true or false")
    spec = {_RENAMED[k]: v for k, v in body.items() if k in _RENAMED}
    spec.setdefault("timeoutSeconds", DEFAULT_TIMEOUT_S)
    kept = {"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_REGION": region(request)}
    return spec | _package(body) | _layers(body) | {"name": native, "environment": _environment(body, kept)}


def _layers(body: dict) -> dict:
    if "Layers" not in body:
        return {}
    if not isinstance(body["Layers"], list):
        raise InvalidArgument("Layers must be a list of layer versions' ARNs")
    return {"layers": [ref_of_arn(arn) for arn in body["Layers"]]}


def configuration_spec(body: dict, current: FunctionRecord) -> dict:
    """The `/v1` update body of an UpdateFunctionConfiguration input."""
    _unknown(body, _CONFIGURATION, "UpdateFunctionConfiguration")
    _defaults_only(body)
    image = _lambda_image(current)
    spec = {_RENAMED[k]: v for k, v in body.items() if k in _RENAMED}
    if image is not None:
        if "Runtime" in body or "Handler" in body:
            raise InvalidArgument("an Image function has no Runtime or Handler: its image's command runs it")
        if "ImageConfig" in body:
            spec |= _image_config(body, {"image": image.image})
    elif "ImageConfig" in body:
        raise InvalidArgument("ImageConfig is for PackageType Image")
    if "Runtime" in body:
        spec["runtime"] = _runtime(body["Runtime"])
    spec |= _layers(body)
    if "Environment" in body:
        kept = {k: current.spec.environment[k] for k in KEPT if k in current.spec.environment}
        spec["environment"] = _environment(body, kept)
    return spec


def code_spec(body: dict, current: FunctionRecord) -> tuple[dict, bool]:
    """The `/v1` update body of an UpdateFunctionCode input, and whether a version is to be published after."""
    _unknown(body, _CODE, "UpdateFunctionCode")
    image = _lambda_image(current)
    if body.get("Architectures") not in (None, ["x86_64"]):
        raise InvalidArgument("Architectures must be [x86_64] here")
    if body.get("DryRun") not in (None, False) or body.get("Publish") not in (None, False, True):
        raise InvalidArgument("DryRun must be false here, and Publish true or false")
    code = _code({k: v for k, v in body.items() if k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion",
                                                          "ImageUri", "SourceKMSKeyArn")},
                 "Zip" if image is None else "Image")
    if image is not None:
        return {"customContainer": image.to_api() | code}, bool(body.get("Publish"))
    return {"code": code}, bool(body.get("Publish"))


def _lambda_image(record: FunctionRecord) -> CustomContainer | None:
    """A Lambda image's container (None for a Lambda-shaped Zip function). This surface changes only what is
    Lambda's: another function is called another way (FC's, or WSGI)."""
    custom = record.spec.custom_container
    if custom is not None and custom.protocol == "lambda":
        return custom
    if record.spec.handler_type != HANDLER_TYPE:
        raise InvalidArgument("this function is not called as Lambda's functions are: change it through the API "
                              "that made it")
    return None


def configuration(request: web.Request, record: FunctionRecord, name: str) -> dict:
    """A function as Lambda's FunctionConfiguration shows it."""
    spec = record.spec
    variables = {k: v for k, v in spec.environment.items() if k not in RESERVED}
    out = {
        "FunctionName": name,
        "FunctionArn": function_arn(request, name),
        "Runtime": spec.runtime,
        "Handler": spec.handler,
        "Description": spec.description,
        "Timeout": spec.timeout_s,
        "MemorySize": spec.memory_mb,
        "Environment": {"Variables": variables},
        "Version": version_of(record.version_id),
        "CodeSha256": record.code_sha256 or "",
        "CodeSize": 0,
        "LastModified": lambda_time(record.updated_at),
        "PackageType": "Zip" if spec.custom_container is None else "Image",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/faas",
        "RevisionId": f"{record.function_id}-{record.revision}",
    }
    if spec.layers:
        out["Layers"] = function_layers(request, spec.layers)
    if record.version_id != defaults.LATEST:
        out["FunctionArn"] = function_arn(request, name, version_of(record.version_id))
    if spec.custom_container is not None:  # an image: its command, not a runtime and handler, runs it
        del out["Runtime"], out["Handler"]
        if spec.custom_container.command:
            out["ImageConfigResponse"] = {"ImageConfig": {"Command": list(spec.custom_container.command)}}
    return out


def code_location(record: FunctionRecord) -> dict:
    """GetFunction's Code: an image's URI, or where a Zip function's code lives (the platform)."""
    custom = record.spec.custom_container
    if custom is not None:
        return {"RepositoryType": "ECR", "ImageUri": custom.image, "ResolvedImageUri": record.image or custom.image}
    return {"RepositoryType": "Platform"}
