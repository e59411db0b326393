"""AWS Lambda's API (`/2015-03-31/...`), as boto3 and the AWS CLI call it, on the platform's services.

Every request is signed (SigV4, see faas.signing.sigv4) with one of the platform's access keys (its id as the
AWS access key id, its secret as the secret key, any region); management needs an admin key, Invoke an invoke
one. Errors are Lambda's: `x-amzn-ErrorType` and `{"Type", "Message"}`, so botocore raises its ClientError with
Lambda's codes. Function names, `name:qualifier` and ARNs (`arn:aws:lambda:<region>:000000000000:function:<name>`)
all name the platform's functions, under the same names as the FC surfaces give them.
"""

from __future__ import annotations

from aiohttp import web

from ...auth import Role
from ..signed import route
from .common import CONCURRENCY_PREFIXES, EVENT_CONFIG_PREFIX, PREFIX, SURFACE, URL_PREFIX, surface
from .functions import (
    create_function,
    delete_concurrency,
    delete_function,
    get_concurrency,
    get_function,
    get_function_configuration,
    invoke,
    list_functions,
    put_concurrency,
    update_code,
    update_configuration,
)
from .layers import (
    LAYERS_PREFIX,
    delete_layer_version,
    get_layer_version,
    list_layer_versions,
    list_layers,
    publish_layer_version,
)
from .releases import create_alias, delete_alias, get_alias, list_aliases, list_versions, publish_version, update_alias
from .settings import (
    create_url,
    delete_event_config,
    delete_provisioned,
    delete_url,
    get_event_config,
    get_provisioned,
    get_url,
    list_event_configs,
    list_urls,
    put_event_config,
    put_provisioned,
    update_event_config,
    update_url,
)

__all__ = ["PREFIX", "add_to"]


def add_to(app: web.Application) -> None:
    """The Lambda surface's routes, at PREFIX, on the platform's app."""
    SURFACE.add_to(app, [  # (a path is matched against its prefix's routes in this order: invocations first)
        route("POST", "/functions/{function}/invocations", invoke, Role.INVOKE),
        route("POST", "/functions", create_function),
        route("GET", "/functions", list_functions),  # (botocore drops the model's trailing slash)
        route("GET", "/functions/", list_functions),
        route("GET", "/functions/{function}", get_function),
        route("DELETE", "/functions/{function}", delete_function),
        route("GET", "/functions/{function}/configuration", get_function_configuration),
        route("PUT", "/functions/{function}/configuration", update_configuration),
        route("PUT", "/functions/{function}/code", update_code),
        route("POST", "/functions/{function}/versions", publish_version),
        route("GET", "/functions/{function}/versions", list_versions),
        route("POST", "/functions/{function}/aliases", create_alias),
        route("GET", "/functions/{function}/aliases", list_aliases),
        route("GET", "/functions/{function}/aliases/{alias}", get_alias),
        route("PUT", "/functions/{function}/aliases/{alias}", update_alias),
        route("DELETE", "/functions/{function}/aliases/{alias}", delete_alias),
    ])
    surface(LAYERS_PREFIX).add_to(app, [
        route("POST", "/layers/{layer}/versions", publish_layer_version),
        route("GET", "/layers", list_layers),  # (and GetLayerVersionByArn: ?find=LayerVersion&Arn=)
        route("GET", "/layers/{layer}/versions", list_layer_versions),
        route("GET", "/layers/{layer}/versions/{version}", get_layer_version),
        route("DELETE", "/layers/{layer}/versions/{version}", delete_layer_version),
    ])
    put_and_delete, get = (surface(prefix) for prefix in CONCURRENCY_PREFIXES)
    put_and_delete.add_to(app, [route("PUT", "/functions/{function}/concurrency", put_concurrency),
                                route("DELETE", "/functions/{function}/concurrency", delete_concurrency)])
    get.add_to(app, [route("GET", "/functions/{function}/concurrency", get_concurrency),
                     route("PUT", "/functions/{function}/provisioned-concurrency", put_provisioned),
                     route("GET", "/functions/{function}/provisioned-concurrency", get_provisioned),
                     route("DELETE", "/functions/{function}/provisioned-concurrency", delete_provisioned)])
    surface(EVENT_CONFIG_PREFIX).add_to(app, [
        route("PUT", "/functions/{function}/event-invoke-config", put_event_config),
        route("POST", "/functions/{function}/event-invoke-config", update_event_config),
        route("GET", "/functions/{function}/event-invoke-config", get_event_config),
        route("DELETE", "/functions/{function}/event-invoke-config", delete_event_config),
        route("GET", "/functions/{function}/event-invoke-config/list", list_event_configs)])
    surface(URL_PREFIX).add_to(app, [
        route("POST", "/functions/{function}/url", create_url),
        route("GET", "/functions/{function}/url", get_url),
        route("PUT", "/functions/{function}/url", update_url),
        route("DELETE", "/functions/{function}/url", delete_url),
        route("GET", "/functions/{function}/urls", list_urls)])
