"""Publish versions, keep aliases, resolve qualifiers for invocations, and keep each version's reserved
containers as its provision configs (and the aliases pointing at it) say."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import replace

from redis.asyncio import Redis

from .. import defaults
from ..cache import TtlCache
from ..errors import (
    AliasAlreadyExists,
    AliasLimitExceeded,
    AliasNotFound,
    FunctionNotFound,
    InvalidArgument,
    NothingToPublish,
    ResourceInUse,
    VersionLimitExceeded,
    VersionNotFound,
)
from ..functions import FunctionService
from ..models import AsyncConfig, FunctionRecord
from ..pool.interface import Pool
from ..pool.state import SERVING
from ..qualifiers import LATEST, check_alias_name, check_qualifier, check_version_id, is_version_id
from .model import (
    Alias,
    ProvisionConfig,
    Version,
    reserved_targets,
)
from .store import ReleaseStore

log = logging.getLogger(__name__)

_ALIAS_RETRIES = 20
"""Times an alias update is tried again when another changed the alias between its read and its write."""


class ReleaseService:
    def __init__(self, redis: Redis, prefix: str, functions: FunctionService, pool: Pool, cache_ttl: float = 1.0):
        """`functions`: the FunctionService (LATEST); `pool`: where versions run."""
        self.store = ReleaseStore(redis, prefix)
        self.functions = functions
        self.pool = pool
        self._versions: TtlCache[Version | None] = TtlCache(cache_ttl)
        self._aliases: TtlCache[Alias | None] = TtlCache(cache_ttl)
        self._async: TtlCache[dict[str, AsyncConfig]] = TtlCache(cache_ttl)
        self._random = random.Random()

    # -- start
    async def records(self, latest: list[FunctionRecord]) -> list[FunctionRecord]:
        """The published versions of these functions (for the pool to find their containers at start)."""
        out = []
        for record in latest:
            out += [v.record for v in (await self.store.versions(record.name)).values()
                    if v.record.function_id == record.function_id]
        return out

    async def apply_reserved(self, name: str) -> None:
        """Give every published version of `name` the reserved containers its provision configs ask for."""
        versions = await self.store.versions(name)
        targets = reserved_targets(await self.store.provisions(name), await self.store.aliases(name))
        for vid, version in versions.items():
            wanted = targets.get(vid, 0)
            if wanted or self.pool.reserved_of(version.record):
                self.pool.provision(version.record, wanted)

    # -- versions
    async def publish(self, name: str, body: object) -> Version:
        latest = await self.functions.get(name)
        version = Version.publish(latest, body, time.time())
        async with self.functions.pinned(latest.spec):  # its layer versions: not deleted since LATEST was read
            status, vid = await self.store.publish(name, latest.function_id, version,
                                                   defaults.VERSIONS_PER_FUNCTION)
        if status == "gone":
            raise FunctionNotFound(f"function {name} does not exist")
        if status == "unchanged":
            raise NothingToPublish(f"LATEST of function {name} is what version {vid} is already: change it first")
        if status == "limit":
            raise VersionLimitExceeded(f"function {name} has {defaults.VERSIONS_PER_FUNCTION} versions, the most it "
                                       "may keep: delete old ones first")
        version = replace(version, record=version.record.evolve(version_id=vid))
        self._versions.pop(self._version_key(latest, vid))
        log.info("Function %s: published version %s (revision %d)", name, vid, latest.revision)
        return version

    async def list_versions(self, name: str, limit: int, next_token: str | None) -> tuple[list[Version], str | None]:
        """Newest first, `limit` of them from `next_token` (a version id: that one and older); and the token of
        the next page (None: this was the last)."""
        latest = await self.functions.get(name)
        start = int(check_version_id(next_token)) if next_token is not None else None
        versions = sorted(self._own(latest, await self.store.versions(name)), key=lambda v: -int(v.id))
        if start is not None:
            versions = [v for v in versions if int(v.id) <= start]
        page, rest = versions[:limit], versions[limit:]
        return page, rest[0].id if rest else None

    async def get_version(self, name: str, vid: str) -> Version:
        latest = await self.functions.get(name)
        version = await self.store.version(name, check_version_id(vid))
        if version is None or version.record.function_id != latest.function_id:
            raise VersionNotFound(f"function {name} has no version {vid}")
        return version

    async def delete_version(self, name: str, vid: str) -> None:
        version = await self.get_version(name, vid)
        _deleted(await self.store.delete_version(name, vid), f"version {vid}", name, VersionNotFound)
        self._versions.pop(self._version_key(version.record, vid))
        await self.pool.remove_version(version.record)
        self.functions.clean_images(name)
        log.info("Function %s: version %s deleted", name, vid)

    # -- aliases
    async def list_aliases(self, name: str) -> list[Alias]:
        await self.functions.get(name)
        return sorted((await self.store.aliases(name)).values(), key=lambda a: a.created_at)

    async def get_alias(self, name: str, alias: str) -> Alias:
        await self.functions.get(name)
        raw = await self.store.alias_json(name, check_alias_name(alias))
        if raw is None:
            raise AliasNotFound(f"function {name} has no alias {alias}")
        return Alias.from_json(raw)

    async def create_alias(self, name: str, body: object) -> Alias:
        alias = Alias.from_create(body, time.time())
        await self.functions.get(name)
        return await self._put_alias(name, alias, None)

    async def update_alias(self, name: str, alias_name: str, body: object) -> Alias:
        check_alias_name(alias_name)
        for _ in range(_ALIAS_RETRIES):
            await self.functions.get(name)
            raw = await self.store.alias_json(name, alias_name)
            if raw is None:
                raise AliasNotFound(f"function {name} has no alias {alias_name}")
            alias = Alias.from_json(raw).updated(body, time.time())
            try:
                return await self._put_alias(name, alias, raw)
            except _Changed:
                continue
        raise ResourceInUse(f"alias {alias_name} of function {name} changes too often to update it now")

    async def _put_alias(self, name: str, alias: Alias, replaces: bytes | None) -> Alias:
        """Store `alias` (created when `replaces` is None). Reserved containers it has follow it: those of its
        new versions are started, and ready, before it moves; the old ones become ordinary after."""
        versions = await self.store.versions(name)
        missing = [v for v in alias.versions if v not in versions]
        if missing:
            raise VersionNotFound(f"function {name} has no version {missing[0]}")
        await self._warm_for(name, alias, versions)
        result = await self.store.put_alias(name, alias, replaces, defaults.ALIASES_PER_FUNCTION)
        self._aliases.pop(f"{name}/{alias.name}")
        await self.apply_reserved(name)
        if result == "ok":
            log.info("Function %s: alias %s -> version %s%s", name, alias.name, alias.version_id,
                     f" (+{alias.additional[1]:g} to {alias.additional[0]})" if alias.additional else "")
            return alias
        if result == "changed":
            raise _Changed()
        if result == "exists":
            raise AliasAlreadyExists(f"function {name} has an alias {alias.name} already")
        if result == "missing":
            raise AliasNotFound(f"function {name} has no alias {alias.name}")
        if result == "limit":
            raise AliasLimitExceeded(f"function {name} has {defaults.ALIASES_PER_FUNCTION} aliases, the most it may "
                                     "have")
        if result == "gone":
            raise FunctionNotFound(f"function {name} does not exist")
        raise VersionNotFound(f"function {name} has no {result} (deleted meanwhile)")

    async def _warm_for(self, name: str, alias: Alias, versions: dict[str, Version]) -> None:
        """Start the reserved containers `alias` will need, and wait until they are ready (or the timeout)."""
        provisions = await self.store.provisions(name)
        if not provisions.get(alias.name):
            return
        aliases = await self.store.aliases(name)
        aliases[alias.name] = alias
        grow = [(versions[vid].record, n) for vid, n in reserved_targets(provisions, aliases).items()
                if vid in versions and n > self.pool.reserved_of(versions[vid].record)]
        for record, n in grow:
            self.pool.provision(record, n)
        ready = await asyncio.gather(*(self.pool.warm(r, defaults.ALIAS_WARM_TIMEOUT_S) for r, _ in grow))
        if not all(ready):
            log.warning("Function %s: alias %s moves before all its reserved containers are ready", name, alias.name)

    async def delete_alias(self, name: str, alias_name: str) -> None:
        await self.get_alias(name, alias_name)
        _deleted(await self.store.delete_alias(name, alias_name), f"alias {alias_name}", name, AliasNotFound)
        self._aliases.pop(f"{name}/{alias_name}")
        await self.apply_reserved(name)
        log.info("Function %s: alias %s deleted", name, alias_name)

    # -- qualifiers
    async def resolve(self, name: str, qualifier: str | None,
                      latest: FunctionRecord | None = None) -> FunctionRecord:
        """The function version an invocation with `qualifier` runs (an alias with an additional version picks
        one at random, by weight). Read from Redis at most once per REGISTRY_CACHE_S. `latest`: LATEST's
        record, when the caller has read it already."""
        latest = latest or await self.functions.get_cached(name)
        if qualifier is None or qualifier == LATEST:
            return latest
        if is_version_id(qualifier):
            return await self._version(latest, qualifier)
        alias = await self._alias(name, check_qualifier(qualifier))
        return await self._version(latest, alias.pick(self._random.random()))

    async def resolve_async(self, name: str, qualifier: str | None,
                            latest: FunctionRecord | None = None) -> tuple[FunctionRecord, AsyncConfig]:
        """The version an async event with `qualifier` runs (chosen now, so that its retries run the same one),
        and its async settings: the qualifier's own, else the version's, else those it was published with."""
        record = await self.resolve(name, qualifier, latest)
        if qualifier is None or qualifier == LATEST:
            return record, record.spec.async_config
        # Keyed by the function's id too: a function deleted and made again under its name starts afresh.
        configs = await self._async.get(f"{name}/{record.function_id}", lambda: self.store.async_configs(name))
        return record, configs.get(qualifier) or configs.get(record.version_id) or record.spec.async_config

    async def version_ids(self, name: str, qualifier: str) -> set[str]:
        """The versions `qualifier` runs: LATEST, one version, or an alias's one or two. FunctionNotFound,
        VersionNotFound or AliasNotFound unless `qualifier` names something `name` has."""
        if check_qualifier(qualifier) == LATEST:
            await self.functions.get(name)
            return {LATEST}
        if is_version_id(qualifier):
            await self.get_version(name, qualifier)
            return {qualifier}
        return set((await self.get_alias(name, qualifier)).versions)

    async def shown(self, name: str, qualifier: str) -> FunctionRecord:
        """The function as `qualifier` shows it (a GetFunction's answer): LATEST, a version, or an alias's main
        version (no weighted pick)."""
        if check_qualifier(qualifier) == LATEST:
            return await self.functions.get(name)
        vid = qualifier if is_version_id(qualifier) else (await self.get_alias(name, qualifier)).version_id
        return (await self.get_version(name, vid)).record

    def _version_key(self, record: FunctionRecord, vid: str) -> str:
        return f"{record.name}/{record.function_id}/{vid}"

    async def _version(self, latest: FunctionRecord, vid: str) -> FunctionRecord:
        version = await self._versions.get(self._version_key(latest, vid),
                                           lambda: self.store.version(latest.name, vid))
        if version is None or version.record.function_id != latest.function_id:
            raise VersionNotFound(f"function {latest.name} has no version {vid}")
        return version.record

    async def _alias(self, name: str, alias_name: str) -> Alias:
        async def load() -> Alias | None:
            raw = await self.store.alias_json(name, alias_name)
            return None if raw is None else Alias.from_json(raw)

        alias = await self._aliases.get(f"{name}/{alias_name}", load)
        if alias is None:
            raise AliasNotFound(f"function {name} has no alias {alias_name}")
        return alias

    def _own(self, latest: FunctionRecord, versions: dict[str, Version]) -> list[Version]:
        return [v for v in versions.values() if v.record.function_id == latest.function_id]

    # -- per-qualifier settings
    async def target(self, name: str, qualifier: str) -> int:
        """The reserved containers `qualifier` asks for (LATEST: its reservedInstances). The caller has checked
        that it exists."""
        if qualifier == LATEST:
            return (await self.functions.get(name)).spec.reserved_instances
        return (await self.store.provisions(name)).get(qualifier, 0)

    async def get_provision(self, name: str, qualifier: str) -> dict:
        vids = await self.version_ids(name, qualifier)
        serving = {state.value for state in SERVING}
        current = sum(1 for i in await self.pool.describe(name, vids) if i["reserved"] and i["state"] in serving)
        return {"functionName": name, "qualifier": qualifier, "target": await self.target(name, qualifier),
                "current": current}

    async def put_provision(self, name: str, qualifier: str, body: object) -> dict:
        config = ProvisionConfig.from_api(body)
        vids = await self.version_ids(name, qualifier)
        if qualifier == LATEST:  # LATEST's reserved containers are its reservedInstances
            await self.functions.update(name, {"reservedInstances": config.target})
            return await self.get_provision(name, qualifier)
        for vid in vids:
            limit = (await self.get_version(name, vid)).record.spec.max_instances
            if config.target > limit:
                raise InvalidArgument(f"target ({config.target}) cannot exceed maxInstances ({limit}) of version "
                                      f"{vid}")
        await self._set_or_explain(self.store.set_provision, name, qualifier, config.target)
        await self.apply_reserved(name)
        return await self.get_provision(name, qualifier)

    async def get_async_config(self, name: str, qualifier: str) -> dict:
        if check_qualifier(qualifier) == LATEST:
            config, source = (await self.functions.get(name)).spec.async_config, "function"
        else:
            version = await self.get_version(name, qualifier) if is_version_id(qualifier) else None
            main = version.id if version else (await self.get_alias(name, qualifier)).version_id
            configs = await self.store.async_configs(name)
            if qualifier in configs:
                config, source = configs[qualifier], "qualifier"
            elif main in configs:
                config, source = configs[main], "version"
            else:
                version = version or await self.get_version(name, main)
                config, source = version.record.spec.async_config, "published"
        return {"functionName": name, "qualifier": qualifier, "source": source, "config": config.to_api()}

    async def put_async_config(self, name: str, qualifier: str, body: object) -> dict:
        config = AsyncConfig.from_api(body)
        await self._set_async_config(name, qualifier, config)
        return await self.get_async_config(name, qualifier)

    async def delete_async_config(self, name: str, qualifier: str) -> None:
        await self._set_async_config(name, qualifier, None)

    async def _set_async_config(self, name: str, qualifier: str, config: AsyncConfig | None) -> None:
        """A qualifier's own async settings (None: none of its own; LATEST's are the function's `async`)."""
        await self.version_ids(name, qualifier)
        if qualifier == LATEST:
            await self.functions.update(name, {"async": config.to_api() if config else None})
            return
        await self._set_or_explain(self.store.set_async_config, name, qualifier, config)
        self._async.pop(f"{name}/{(await self.functions.get(name)).function_id}")

    async def _set_or_explain(self, setter, name: str, qualifier: str, value) -> None:
        """Write a version's or alias's setting; if it was deleted meanwhile, say what is missing."""
        if not await setter(name, qualifier, value):
            await self.version_ids(name, qualifier)

    # -- the function goes

def _deleted(result: str, what: str, function: str, missing: type[Exception]) -> None:
    """Raise what a delete script's answer other than ok means: `missing`, or ResourceInUse naming the alias or
    trigger (`result`) that refers to `what`."""
    if result == "missing":
        raise missing(f"function {function} has no {what}")
    if result != "ok":
        raise ResourceInUse(f"{what} of function {function} is used by {result}: point that elsewhere, or delete "
                            "it, first")


class _Changed(Exception):
    """The alias changed between its read and its write: read it again."""
