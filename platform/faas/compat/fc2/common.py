"""What the FC 2.0 surface's handlers share: its signature and error shape (the middleware), and the reading
of a path's service, qualifier and function."""

from __future__ import annotations

from aiohttp import web

from ... import defaults
from ...api.keys import REDIS, RELEASES, SERVICE, SETTINGS
from ...errors import FunctionNotFound, InvalidArgument
from ...models import FunctionRecord
from ...qualifiers import check_qualifier
from ...signing import fc2
from ..signed import Surface
from . import model
from .model import platform_name
from .releases import ServiceReleases
from .store import ServiceStore


def _shape(status: int, code: str, message: str, request_id: str) -> dict:
    return {"ErrorCode": code, "ErrorMessage": message}


PREFIX = "/2016-08-15"
SURFACE = Surface(PREFIX, fc2, _shape)
"""FC 2.0's signature first; every error as `{"ErrorCode", "ErrorMessage"}` with `x-fc-request-id`."""


def service_of(request: web.Request, qualified: bool = False) -> tuple[str, str]:
    """The path's service and qualifier (`svc` or `svc.qualifier`; LATEST when none). Unless `qualified`, a
    qualifier other than LATEST is refused: only invocations and a qualifier's configs take one."""
    raw = request.match_info["service"]
    name, dot, qualifier = raw.partition(model.QUALIFIER_DELIMITER)
    model.check_name(name, "serviceName")
    if not dot:
        return name, defaults.LATEST
    if not qualified and qualifier != defaults.LATEST:
        raise InvalidArgument(f"{raw}: only invocations and provision and async-invoke configs take a qualifier")
    return name, check_qualifier(qualifier)


def function_of(request: web.Request) -> str:
    return model.check_name(request.match_info["function"], "functionName")


def services(request: web.Request) -> ServiceStore:
    return ServiceStore(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)


def service_releases(request: web.Request) -> ServiceReleases:
    return ServiceReleases(services(request), request.config_dict[RELEASES])


async def existing_service(request: web.Request, qualified: bool = False) -> str:
    """The path's service, checked to exist (ServiceNotFound); `qualified` as for service_of."""
    service, _ = service_of(request, qualified)
    await services(request).get(service)
    return service


async def function_record(request: web.Request, qualified: bool = False) -> tuple[str, str, FunctionRecord]:
    """The path's service (checked to exist), its function's FC name, and the function's (LATEST's) record."""
    service = await existing_service(request, qualified)
    fc_name = function_of(request)
    try:
        record = await request.config_dict[SERVICE].get(platform_name(service, fc_name))
    except FunctionNotFound:
        raise FunctionNotFound(f"service {service} has no function {fc_name}") from None
    return service, fc_name, record
