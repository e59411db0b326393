"""A function version's code, downloaded as a zip: with an admin token, or through a download URL that FC's
GetFunctionCode answers (signed with a key derived from FAAS_SECRET_KEY, good for CODE_URL_TTL_S)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from aiohttp import ChainMapProxy, web

from .. import defaults
from ..auth import Role, require
from ..code_export import code_zip
from ..errors import InvalidArgument, Unauthorized
from ..models import check_name
from ..webio import qualifier_of
from .keys import ACCESS_KEYS, DOCKER, RELEASES, TOKENS
from .middlewares import role

_EXPIRES_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")


def _resource(name: str, qualifier: str) -> str:
    return f"/v1/functions/{name}/code?qualifier={qualifier}"


def code_url(app: web.Application | ChainMapProxy, base_url: str, name: str, qualifier: str) -> str:
    """A URL that downloads `name`'s code at `qualifier` without a token, until it expires."""
    expires = int(time.time()) + defaults.CODE_URL_TTL_S
    signature = app[ACCESS_KEYS].url_signature(_resource(name, qualifier), expires)
    return f"{base_url}/v1/functions/{name}/code?" + urlencode(
        {"qualifier": qualifier, "expires": expires, "signature": signature})


@role(None)  # an admin token, or a download URL's signature: checked here
async def get_function_code(request: web.Request) -> web.Response:
    name = check_name(request.match_info["name"])
    qualifier = qualifier_of(request)
    query = request.query
    if "signature" in query or "expires" in query:
        expires, signature = query.get("expires", ""), query.get("signature", "")
        if not _EXPIRES_RE.fullmatch(expires) or not _SIGNATURE_RE.fullmatch(signature):
            raise InvalidArgument("a download URL has expires (seconds since the epoch) and signature (64 hex digits)")
        if not request.app[ACCESS_KEYS].url_signed(_resource(name, qualifier), expires, signature, time.time()):
            raise Unauthorized("this download URL is not one of the platform's, or it has expired")
    else:
        require(await request.app[TOKENS].authenticate(request.headers.get("Authorization")), Role.ADMIN)
    record = await request.app[RELEASES].resolve(name, qualifier)
    body = await code_zip(request.app[DOCKER], record)
    return web.Response(body=body, content_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'})


def add_code_routes(app: web.Application) -> None:
    app.router.add_routes([web.get("/v1/functions/{name}/code", get_function_code)])
