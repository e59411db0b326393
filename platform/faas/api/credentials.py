"""Credentials: bearer tokens (the `/v1` API's) and access keys (which sign requests to FC's surfaces). Both
have the two roles; a secret is shown once, when it is made."""

from __future__ import annotations

from aiohttp import web

from ..errors import InvalidArgument
from .handlers import read_json
from .keys import ACCESS_KEYS, TOKENS


async def _role_and_name(request: web.Request) -> tuple[object, object]:
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"role", "name"}:
        raise InvalidArgument("the body must be an object with role (admin or invoke) and name")
    return body.get("role"), body.get("name")


async def create_token(request: web.Request) -> web.Response:
    token, secret = await request.app[TOKENS].create(*await _role_and_name(request))
    return web.json_response(token.to_api() | {"token": secret}, status=201)


async def list_tokens(request: web.Request) -> web.Response:
    return web.json_response({"tokens": [t.to_api() for t in await request.app[TOKENS].list()]})


async def revoke_token(request: web.Request) -> web.Response:
    await request.app[TOKENS].revoke(request.match_info["token_id"])
    return web.Response(status=204)


def _key_api(key) -> dict:
    return {"accessKeyId": key.id, "role": key.role.value, "name": key.name, "createdAt": key.created_at}


async def create_access_key(request: web.Request) -> web.Response:
    key, secret = await request.app[ACCESS_KEYS].create(*await _role_and_name(request))
    return web.json_response(_key_api(key) | {"accessKeySecret": secret}, status=201)


async def list_access_keys(request: web.Request) -> web.Response:
    return web.json_response({"accessKeys": [_key_api(k) for k in await request.app[ACCESS_KEYS].list()]})


async def revoke_access_key(request: web.Request) -> web.Response:
    await request.app[ACCESS_KEYS].revoke(request.match_info["key_id"])
    return web.Response(status=204)


def add_credential_routes(app: web.Application) -> None:
    app.router.add_routes([
        web.post("/v1/tokens", create_token),
        web.get("/v1/tokens", list_tokens),
        web.delete("/v1/tokens/{token_id}", revoke_token),
        web.post("/v1/access-keys", create_access_key),
        web.get("/v1/access-keys", list_access_keys),
        web.delete("/v1/access-keys/{key_id}", revoke_access_key),
    ])
