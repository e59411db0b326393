"""What the FC 2.0 surface's handlers share: its signature and error shape (the middleware), and the reading
of a path's service, qualifier and function."""

from __future__ import annotations

from aiohttp import web

from ... import defaults
from ...api.keys import REDIS, SERVICE, SETTINGS
from ...errors import FunctionNotFound, InvalidArgument
from ...models import FunctionRecord
from ...signing import fc2
from ..names import native_name
from ..signed import surface_middleware
from . import model
from .store import ServiceStore


def _shape(status: int, code: str, message: str, request_id: str) -> dict:
    return {"ErrorCode": code, "ErrorMessage": message}


fc2_middleware = surface_middleware(fc2, _shape)
"""FC 2.0's signature first; every error as `{"ErrorCode", "ErrorMessage"}` with `x-fc-request-id`."""


def service_of(request: web.Request) -> tuple[str, str]:
    """The path's service and qualifier (`svc` or `svc.qualifier`; LATEST when none)."""
    raw = request.match_info["service"]
    name, dot, qualifier = raw.partition(model.QUALIFIER_DELIMITER)
    model.check_name(name, "serviceName")
    if dot and qualifier != defaults.LATEST:
        raise InvalidArgument("a service's versions and aliases are not answered through FC 2.0 yet: call "
                              f"{name} or {name}.{defaults.LATEST}")
    return name, defaults.LATEST


def function_of(request: web.Request) -> str:
    return model.check_name(request.match_info["function"], "functionName")


def pair_name(service: str, function: str) -> str:
    """The FC name the platform keeps for a function of a service (see faas.compat.names): no FC 3.0 name has a
    '/', so it is never one of theirs."""
    return f"{service}/{function}"


def platform_name(service: str, function: str) -> str:
    return native_name(pair_name(service, function))


def services(request: web.Request) -> ServiceStore:
    return ServiceStore(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)


async def existing_service(request: web.Request) -> str:
    """The path's service, checked to exist (ServiceNotFound)."""
    service, _ = service_of(request)
    await services(request).get(service)
    return service


async def function_record(request: web.Request) -> tuple[str, str, FunctionRecord]:
    """The path's service (checked to exist), its function's FC name, and the function's record."""
    service = await existing_service(request)
    fc_name = function_of(request)
    try:
        record = await request.config_dict[SERVICE].get(platform_name(service, fc_name))
    except FunctionNotFound:
        raise FunctionNotFound(f"service {service} has no function {fc_name}") from None
    return service, fc_name, record
