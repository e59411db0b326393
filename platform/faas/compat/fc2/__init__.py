"""FC 2.0's API (`/2016-08-15/...`), as the `aliyun-fc2` SDK calls it, on the platform's services.

Every request is signed (`Authorization: FC <AccessKeyId>:<signature>`, see faas.signing.fc2) with an access
key; management needs an admin key, InvokeFunction an invoke one. Errors are `{"ErrorCode", "ErrorMessage"}`
with `x-fc-request-id`, at the status the `/v1` API gives the same error (the SDK raises FcError for 4xx and 5xx;
expected failures are never 500, which it would retry). A service is a namespace (`store`); each of its
functions is a platform function of its own, named by faas.compat.names from `service/function`.
"""

from __future__ import annotations

from aiohttp import web

from ...auth import Role
from ..signed import route
from .common import PREFIX, SURFACE
from .functions import (
    create_function,
    delete_function,
    get_function,
    get_function_code,
    invoke_function,
    list_functions,
    update_function,
)
from .proxy import proxy
from .services import create_service, delete_service, get_service, list_services, update_service
from .triggers import TRIGGER_ROUTES as TRIGGERS
from .versions import (
    create_alias,
    delete_alias,
    delete_async_config,
    delete_version,
    get_alias,
    get_async_config,
    get_provision_config,
    list_aliases,
    list_async_configs,
    list_provision_configs,
    list_versions,
    publish_version,
    put_async_config,
    put_provision_config,
    update_alias,
)

__all__ = ["PREFIX", "add_to"]


def add_to(app: web.Application) -> None:
    """The FC 2.0 surface's routes, at PREFIX, on the platform's app."""
    SURFACE.add_to(app, [
        route("POST", "/services", create_service),
        route("GET", "/services", list_services),
        route("GET", "/services/{service}", get_service),
        route("PUT", "/services/{service}", update_service),
        route("DELETE", "/services/{service}", delete_service),
        route("POST", "/services/{service}/functions", create_function),
        route("GET", "/services/{service}/functions", list_functions),
        route("GET", "/services/{service}/functions/{function}", get_function),
        route("PUT", "/services/{service}/functions/{function}", update_function),
        route("DELETE", "/services/{service}/functions/{function}", delete_function),
        route("POST", "/services/{service}/versions", publish_version),
        route("GET", "/services/{service}/versions", list_versions),
        route("DELETE", "/services/{service}/versions/{version}", delete_version),
        route("POST", "/services/{service}/aliases", create_alias),
        route("GET", "/services/{service}/aliases", list_aliases),
        route("GET", "/services/{service}/aliases/{alias}", get_alias),
        route("PUT", "/services/{service}/aliases/{alias}", update_alias),
        route("DELETE", "/services/{service}/aliases/{alias}", delete_alias),
        route("GET", "/services/{service}/functions/{function}/code", get_function_code),
        route("PUT", "/services/{service}/functions/{function}/provision-config", put_provision_config),
        route("GET", "/services/{service}/functions/{function}/provision-config", get_provision_config),
        route("GET", "/provision-configs", list_provision_configs),
        route("PUT", "/services/{service}/functions/{function}/async-invoke-config", put_async_config),
        route("GET", "/services/{service}/functions/{function}/async-invoke-config", get_async_config),
        route("DELETE", "/services/{service}/functions/{function}/async-invoke-config", delete_async_config),
        route("GET", "/services/{service}/functions/{function}/async-invoke-configs", list_async_configs),
        route("POST", "/services/{service}/functions/{function}/invocations", invoke_function, Role.INVOKE),
        route("POST", "/services/{service}/functions/{function}/triggers", TRIGGERS.create),
        route("*", "/proxy/{service}/{function}", proxy, None),
        route("*", "/proxy/{service}/{function}/{tail:.*}", proxy, None),
        route("GET", "/services/{service}/functions/{function}/triggers", TRIGGERS.list),
        route("GET", "/services/{service}/functions/{function}/triggers/{trigger}", TRIGGERS.get),
        route("PUT", "/services/{service}/functions/{function}/triggers/{trigger}", TRIGGERS.update),
        route("DELETE", "/services/{service}/functions/{function}/triggers/{trigger}", TRIGGERS.delete),
    ])
