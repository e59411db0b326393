"""FC's function names on the platform's: FC allows capitals, `_` and 128 characters, where a platform name
(it goes into image tags, labels and queue names) is lower-case letters, digits and `-`, 63 at most.

An FC name that is a platform name already is that function: the same function under the same name through
every surface. Any other gets a platform name of its own: its letters made lower-case, `_` made `-`, and
the first 8 hex digits of its SHA-256, so that `My_Func` and `my_func` are two functions
(`my-func-1d5c0a94`, `my-func-5e0c8f1b`). Redis keeps each such pair both ways; a platform name already
taken (by a function made under it through `/v1`) is refused, never shared.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from aiohttp import web
from redis.asyncio import Redis

from .. import defaults
from ..api.keys import REDIS, SERVICE, SETTINGS
from ..errors import FunctionAlreadyExists
from ..models import FunctionRecord

_NAME_RE = re.compile(defaults.NAME_PATTERN)
_NOT_NAME = re.compile(r"[^a-z0-9-]+")
SUFFIX_HEX = 8


def is_native(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


def derived(fc_name: str) -> str:
    """The platform name an FC name that is not one gets: readable, and its own (a hash of the exact name)."""
    slug = _NOT_NAME.sub("-", fc_name.lower().replace("_", "-")).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "fc-" + slug
    digest = hashlib.sha256(fc_name.encode()).hexdigest()[:SUFFIX_HEX]
    return f"{slug[:62 - SUFFIX_HEX].rstrip('-')}-{digest}"


def native_name(fc_name: str) -> str:
    """The platform name of `fc_name` (whether or not a function has it): derived from it, no lookup needed."""
    return fc_name if is_native(fc_name) else derived(fc_name)


class FcNames:
    """FC names that are not platform names, and the platform names they have (`{prefix}:fc-names`, and
    `{prefix}:fc-names:native` the other way)."""

    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.forward = f"{prefix}:fc-names"
        self.backward = f"{prefix}:fc-names:native"

    async def claim(self, fc_name: str) -> tuple[str, bool]:
        """The platform name for a function about to be made under `fc_name`, its pair written first, and
        whether this call wrote it (the caller releases it if the function cannot be made).
        FunctionAlreadyExists when the platform name is another FC name's."""
        native = native_name(fc_name)
        if native == fc_name:
            return native, False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self.backward, native, fc_name)
            pipe.hget(self.backward, native)
            written, owner = await pipe.execute()
        if owner is not None and owner.decode() != fc_name:
            raise FunctionAlreadyExists(f"the platform name {native} of {fc_name} is taken")
        await self.redis.hset(self.forward, fc_name, native)
        return native, bool(written)

    async def release(self, fc_name: str) -> None:
        """Forget the pair of a function that is gone."""
        native = native_name(fc_name)
        if native != fc_name:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.forward, fc_name)
                pipe.hdel(self.backward, native)
                await pipe.execute()

    async def fc_names(self, natives: list[str]) -> dict[str, str]:
        """The FC name of each platform name (itself when it has no pair)."""
        if not natives:
            return {}
        owners = await self.redis.hmget(self.backward, natives)
        return {n: (o.decode() if o is not None else n) for n, o in zip(natives, owners)}


def name_pairs(request: web.Request) -> FcNames:
    return FcNames(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)


async def surface_page(request: web.Request, choose: Callable[[list[str]], tuple[list[str], str | None]]) \
        -> tuple[list[tuple[str, FunctionRecord]], str | None]:
    """A page of the functions by the names a surface (FC's, Lambda's) calls them: `choose` picks the page's names
    and the next page's token from all those names; only the page's records are read. A function deleted
    meanwhile is left out."""
    service = request.config_dict[SERVICE]
    native_of = {fc: native for native, fc in (await name_pairs(request).fc_names(await service.names())).items()}
    chosen, token = choose(list(native_of))
    records = {r.name: r for r in await service.records([native_of[fc] for fc in chosen])}
    return [(fc, records[native_of[fc]]) for fc in chosen if native_of[fc] in records], token


async def create_named(request: web.Request, fc_name: str, spec: dict) -> FunctionRecord:
    """Make the function an FC surface calls `fc_name`, under its platform name: the pair is written first, and
    taken back when the function cannot be made."""
    pairs = name_pairs(request)
    native, claimed = await pairs.claim(fc_name)
    try:
        return await request.config_dict[SERVICE].create(spec | {"name": native})
    except BaseException:
        if claimed:  # its pair was made for this function, which was not made
            await pairs.release(fc_name)
        raise
