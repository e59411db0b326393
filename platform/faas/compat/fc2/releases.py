"""FC 2.0's service versions and aliases, on the platform's function versions and aliases (faas.releases).

A service version is, for each function of the service, the function version published with it (a function whose
LATEST is what its newest version is already keeps that one). A service alias is, on each function of the
version it names, a function alias of the same name that points at that function's versions: invocations through
it, its weights and the provision and async-invoke configs set on it are the platform's own. A qualifier in a
path (`svc.q`) is LATEST, a service version (run as the function's version of it) or a service alias.
"""

from __future__ import annotations

import time

from ... import defaults
from ...errors import (
    AliasAlreadyExists,
    AliasNotFound,
    FunctionNotFound,
    InvalidArgument,
    NothingToPublish,
    ResourceInUse,
    VersionNotFound,
)
from ...models import check_description
from ...qualifiers import check_alias_name, check_version_id, is_version_id
from ...releases.model import Alias
from ...releases.service import ReleaseService
from .model import platform_name
from .store import ServiceStore


class ServiceReleases:
    def __init__(self, store: ServiceStore, releases: ReleaseService):
        self.store = store
        self.releases = releases

    # -- versions
    async def publish(self, service: str, body: object) -> dict:
        if not isinstance(body, dict) or set(body) - {"description"}:
            raise InvalidArgument("PublishServiceVersion takes only description")
        description = check_description(body, "")
        await self.store.get(service)
        functions: dict[str, str] = {}
        made: list[str] = []
        for fn in await self.store.functions(service):
            name = platform_name(service, fn)
            try:
                try:
                    functions[fn] = (await self.releases.publish(name, {"description": description})).id
                    made.append(fn)
                except NothingToPublish:  # LATEST is its newest version
                    functions[fn] = (await self.releases.list_versions(name, 1, None))[0][0].id
            except FunctionNotFound:  # deleted meanwhile
                continue
        if not functions:
            raise NothingToPublish(f"service {service} has no functions to publish")
        versions = await self.store.versions(service)
        if versions and versions[max(versions, key=int)]["functions"] == functions:
            raise NothingToPublish(f"service {service} is what its newest version is already: change it first")
        return await self.store.add_version(service, {"description": description, "createdAt": time.time(),
                                                      "functions": functions, "made": made})

    async def list_versions(self, service: str, limit: int, start: str | None, forward: bool) -> tuple[list[dict],
                                                                                                     str | None]:
        """`limit` versions from `start` (a version id, that one included) on, newest first unless `forward`; and
        the id the next page starts from (None: this was the last)."""
        await self.store.get(service)
        versions = sorted((await self.store.versions(service)).values(), key=lambda v: int(v["versionId"]),
                          reverse=not forward)
        if start is not None:
            first = int(check_version_id(start))
            versions = [v for v in versions if (int(v["versionId"]) >= first if forward
                                                else int(v["versionId"]) <= first)]
        page, rest = versions[:limit], versions[limit:]
        return page, rest[0]["versionId"] if rest else None

    async def version(self, service: str, vid: str) -> dict:
        found = await self.store.version(service, check_version_id(vid))
        if found is None:
            raise VersionNotFound(f"service {service} has no version {vid}")
        return found

    async def delete_version(self, service: str, vid: str) -> None:
        """Delete a service version no alias names, and the function versions it made that no other service
        version has (those a platform alias or trigger refers to stay)."""
        await self.store.get(service)
        version = await self.version(service, vid)
        for alias in (await self.store.aliases(service)).values():
            if vid in alias.versions:
                raise ResourceInUse(f"alias {alias.name} of service {service} refers to version {vid}")
        if not await self.store.delete_version(service, vid):
            raise VersionNotFound(f"service {service} has no version {vid}")
        kept = await self.store.versions(service)
        for fn in version.get("made", []):
            fv = version["functions"][fn]
            if any(v["functions"].get(fn) == fv for v in kept.values()):
                continue
            try:
                await self.releases.delete_version(platform_name(service, fn), fv)
            except (FunctionNotFound, VersionNotFound, ResourceInUse):
                pass

    # -- aliases
    async def get_alias(self, service: str, name: str) -> Alias:
        await self.store.get(service)
        alias = await self.store.alias(service, check_alias_name(name))
        if alias is None:
            raise AliasNotFound(f"service {service} has no alias {name}")
        return alias

    async def list_aliases(self, service: str) -> dict[str, Alias]:
        await self.store.get(service)
        return await self.store.aliases(service)

    async def create_alias(self, service: str, body: object) -> Alias:
        alias = Alias.from_create(body, time.time())
        await self.store.get(service)
        versions = await self._versions_of(service, alias)
        if not await self.store.put_alias(service, alias, creating=True):
            raise AliasAlreadyExists(f"service {service} has an alias {alias.name} already")
        try:
            await self._mirror(service, alias, versions)
        except BaseException:
            await self._unmirror(service, alias.name)
            await self.store.delete_alias(service, alias.name)
            raise
        return alias

    async def update_alias(self, service: str, name: str, body: object) -> Alias:
        current = await self.get_alias(service, name)
        alias = current.updated(body, time.time())
        versions = await self._versions_of(service, alias)
        await self.store.put_alias(service, alias, creating=False)
        await self._mirror(service, alias, versions)
        return alias

    async def delete_alias(self, service: str, name: str) -> None:
        alias = await self.get_alias(service, name)
        try:
            await self._unmirror(service, alias.name)
        except BaseException:  # a function's alias is in use: put back those already gone
            await self._mirror(service, alias, await self._versions_of(service, alias))
            raise
        await self.store.delete_alias(service, alias.name)

    async def _versions_of(self, service: str, alias: Alias) -> dict[str, dict]:
        return {vid: await self.version(service, vid) for vid in alias.versions}

    async def _mirror(self, service: str, alias: Alias, versions: dict[str, dict]) -> None:
        """Give each function of the alias's version a function alias of its name, pointing at the function's
        versions (its additional one, when the function has another version there); take it from the others."""
        main = versions[alias.version_id]["functions"]
        extra = versions[alias.additional[0]]["functions"] if alias.additional else {}
        for fn in await self.store.functions(service):
            name = platform_name(service, fn)
            if fn not in main:
                await self._drop(name, alias.name)
                continue
            weights = {}
            if alias.additional and extra.get(fn) not in (None, main[fn]):
                weights[extra[fn]] = alias.additional[1]
            body = {"versionId": main[fn], "description": alias.description, "additionalVersionWeight": weights}
            try:
                try:
                    await self.releases.update_alias(name, alias.name, body)
                except AliasNotFound:
                    await self.releases.create_alias(name, {"aliasName": alias.name, **body})
            except FunctionNotFound:  # deleted meanwhile
                continue

    async def _unmirror(self, service: str, alias_name: str) -> None:
        for fn in await self.store.functions(service):
            await self._drop(platform_name(service, fn), alias_name)

    async def _drop(self, name: str, alias_name: str) -> None:
        try:
            await self.releases.delete_alias(name, alias_name)
        except (AliasNotFound, FunctionNotFound):
            pass

    # -- qualifiers
    async def qualifier(self, service: str, fn: str, qualifier: str, versions: bool = True) -> str:
        """The function qualifier a path's service qualifier names for `fn`: LATEST, the function's version of a
        service version (unless not `versions`: then a version is refused), or the service alias's own name."""
        if qualifier == defaults.LATEST:
            return qualifier
        if is_version_id(qualifier):
            if not versions:
                raise InvalidArgument(f"set this on an alias of service {service} or on {defaults.LATEST}, not on a "
                                      "version")
            fv = (await self.version(service, qualifier))["functions"].get(fn)
            if fv is None:
                raise FunctionNotFound(f"version {qualifier} of service {service} has no function {fn}")
            return fv
        await self.get_alias(service, qualifier)
        return qualifier
