"""FC 3.0's API (`/2023-03-30/...`), as the `alibabacloud-fc20230330` SDK calls it, on the platform's services.

Every request is signed (ACS3-HMAC-SHA256, see faas.signing.acs3) with an access key; management needs an
admin key, InvokeFunction an invoke one. Errors are FC's `{"Code", "Message", "RequestId"}` with the status
the `/v1` API gives the same error, so the SDK raises its own ClientException/ServerException with `.code`.
Function errors are 200 with `x-fc-error-type`, as on FC. The field mapping is in `model`; the handlers are
by resource (functions, releases, triggers, tasks).
"""

from __future__ import annotations

from aiohttp import web

from ...auth import Role
from ..signed import route
from .common import PREFIX, SURFACE
from .functions import (
    create_function,
    delete_concurrency_config,
    delete_function,
    get_concurrency_config,
    get_function,
    get_function_code,
    invoke_function,
    list_functions,
    put_concurrency_config,
    update_function,
)
from .layers import (
    create_layer_version,
    delete_layer_version,
    get_layer_version,
    get_layer_version_by_arn,
    list_layer_versions,
    list_layers,
)
from .releases import (
    create_alias,
    delete_alias,
    delete_async_config,
    delete_provision_config,
    delete_version,
    get_alias,
    get_async_config,
    get_provision_config,
    list_aliases,
    list_versions,
    publish_version,
    put_async_config,
    put_provision_config,
    update_alias,
)
from .tasks import get_async_task, list_async_tasks, stop_async_task
from .triggers import TRIGGER_ROUTES as TRIGGERS

__all__ = ["PREFIX", "add_to"]


def add_to(app: web.Application) -> None:
    """The FC 3.0 surface's routes, at PREFIX, on the platform's app."""
    SURFACE.add_to(app, [  # (a path is matched against its prefix's routes in this order: invocations first)
        route("POST", "/functions/{function}/invocations", invoke_function, Role.INVOKE),
        route("POST", "/functions", create_function),
        route("GET", "/functions", list_functions),
        route("GET", "/functions/{function}", get_function),
        route("PUT", "/functions/{function}", update_function),
        route("DELETE", "/functions/{function}", delete_function),
        route("GET", "/functions/{function}/code", get_function_code),
        route("POST", "/functions/{function}/versions", publish_version),
        route("GET", "/functions/{function}/versions", list_versions),
        route("DELETE", "/functions/{function}/versions/{version}", delete_version),
        route("POST", "/functions/{function}/aliases", create_alias),
        route("GET", "/functions/{function}/aliases", list_aliases),
        route("GET", "/functions/{function}/aliases/{alias}", get_alias),
        route("PUT", "/functions/{function}/aliases/{alias}", update_alias),
        route("DELETE", "/functions/{function}/aliases/{alias}", delete_alias),
        route("POST", "/functions/{function}/triggers", TRIGGERS.create),
        route("GET", "/functions/{function}/triggers", TRIGGERS.list),
        route("GET", "/functions/{function}/triggers/{trigger}", TRIGGERS.get),
        route("PUT", "/functions/{function}/triggers/{trigger}", TRIGGERS.update),
        route("DELETE", "/functions/{function}/triggers/{trigger}", TRIGGERS.delete),
        route("PUT", "/functions/{function}/provision-config", put_provision_config),
        route("GET", "/functions/{function}/provision-config", get_provision_config),
        route("DELETE", "/functions/{function}/provision-config", delete_provision_config),
        route("GET", "/functions/{function}/async-tasks", list_async_tasks, Role.INVOKE),
        route("GET", "/functions/{function}/async-tasks/{task}", get_async_task, Role.INVOKE),
        route("PUT", "/functions/{function}/async-tasks/{task}/stop", stop_async_task, Role.INVOKE),
        route("PUT", "/functions/{function}/concurrency", put_concurrency_config),
        route("GET", "/functions/{function}/concurrency", get_concurrency_config),
        route("DELETE", "/functions/{function}/concurrency", delete_concurrency_config),
        route("PUT", "/functions/{function}/async-invoke-config", put_async_config),
        route("GET", "/functions/{function}/async-invoke-config", get_async_config),
        route("DELETE", "/functions/{function}/async-invoke-config", delete_async_config),
        route("POST", "/layers/{layer}/versions", create_layer_version),
        route("GET", "/layers", list_layers),
        route("GET", "/layers/{layer}/versions", list_layer_versions),
        route("GET", "/layers/{layer}/versions/{version}", get_layer_version),
        route("DELETE", "/layers/{layer}/versions/{version}", delete_layer_version),
        route("GET", "/layerarn/{arn}", get_layer_version_by_arn),
    ])
