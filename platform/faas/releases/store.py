"""Versions, aliases and per-qualifier settings in Redis.

| key | type | holds |
|---|---|---|
| `{prefix}:fn:{name}:versions` | hash | published versions: id -> JSON (Version.to_json) |
| `{prefix}:fn:{name}:version-seq` | string | the last version id given (ids are never reused) |
| `{prefix}:fn:{name}:aliases` | hash | aliases: name -> JSON |
| `{prefix}:fn:{name}:provision` | hash | provision configs of versions and aliases: qualifier -> target |
| `{prefix}:fn:{name}:async-config` | hash | async configs of versions and aliases: qualifier -> JSON |

Every change that must see other keys as they are (publish, alias changes, deletes that other things refer
to) is one Lua script, so that control planes sharing one Redis cannot interleave a check and a write.
"""

from __future__ import annotations

import json

from redis.asyncio import Redis

from ..models import AsyncConfig
from ..store import QUALIFIER_EXISTS_LUA, function_key, function_part_key
from ..triggers.store import TriggerStore
from .model import Alias, Version

_PUBLISH = """
local latest = redis.call('GET', KEYS[1])
if not latest then return {'gone', ''} end
if cjson.decode(latest)['functionId'] ~= ARGV[1] then return {'gone', ''} end
local all = redis.call('HGETALL', KEYS[2])
local newest, newest_doc = -1, nil
for i = 1, #all, 2 do
  local id = tonumber(all[i])
  if id > newest then newest, newest_doc = id, all[i + 1] end
end
if newest_doc and cjson.decode(newest_doc)['fingerprint'] == ARGV[2] then return {'unchanged', tostring(newest)} end
if #all / 2 >= tonumber(ARGV[4]) then return {'limit', ''} end
local id = tostring(redis.call('INCR', KEYS[3]))
local doc = string.gsub(ARGV[3], '^{"versionId": "0"', '{"versionId": "' .. id .. '"', 1)
redis.call('HSET', KEYS[2], id, doc)
return {'ok', id}
"""
"""Publish (KEYS: the function, its versions, its version counter; ARGV: function id, fingerprint, the
version's JSON with id "0", most versions): ok + id, unchanged + the newest id, limit, or gone."""

_REFERRERS = """
local function referrers(aliases_key, triggers_key, qualifier, check_aliases)
  if check_aliases then
    local aliases = redis.call('HGETALL', aliases_key)
    for i = 1, #aliases, 2 do
      local a = cjson.decode(aliases[i + 1])
      if a['versionId'] == qualifier then return 'alias ' .. aliases[i] end
      local w = a['additionalVersionWeight']
      if type(w) == 'table' and w[qualifier] ~= nil then return 'alias ' .. aliases[i] end
    end
  end
  local triggers = redis.call('HGETALL', triggers_key)
  for i = 1, #triggers, 2 do
    if cjson.decode(triggers[i + 1])['qualifier'] == qualifier then return 'trigger ' .. triggers[i] end
  end
  return nil
end
"""

_DELETE_VERSION = _REFERRERS + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'missing' end
local by = referrers(KEYS[2], KEYS[3], ARGV[1], true)
if by then return by end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return 'ok'
"""
"""Delete a version (KEYS: versions, aliases, triggers, provision, async-config; ARGV: id) unless an alias
or a trigger refers to it: ok, missing, or `alias <name>` / `trigger <name>` that refers to it."""

_DELETE_ALIAS = _REFERRERS + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'missing' end
local by = referrers(nil, KEYS[2], ARGV[1], false)
if by then return by end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 'ok'
"""
"""Delete an alias (KEYS: aliases, triggers, provision, async-config; ARGV: name) unless a trigger refers to
it: ok, missing or `trigger <name>`."""

_PUT_ALIAS = """
if redis.call('EXISTS', KEYS[3]) == 0 then return 'gone' end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] == '' then
  if current then return 'exists' end
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'limit' end
elseif current ~= ARGV[3] then
  return current and 'changed' or 'missing'
end
for i = 5, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then return 'version ' .. ARGV[i] end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
"""
"""Create or update an alias (KEYS: aliases, versions, the function; ARGV: name, JSON, the JSON it replaces
('' to create), most aliases, the versions it names): ok, exists, limit, changed (updated meanwhile),
missing, gone (no function), or `version <id>` that does not exist."""


_SET_SETTING = QUALIFIER_EXISTS_LUA + """
local q = ARGV[1]
if not qualifier_exists(KEYS[2], KEYS[3], q) then return 'missing' end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], q) else redis.call('HSET', KEYS[1], q, ARGV[2]) end
return 'ok'
"""
"""Set (or, with an empty value, drop) a version's or an alias's setting (KEYS: the settings hash, versions,
aliases; ARGV: qualifier, value), only while it exists: ok or missing. (A delete drops its settings in the
same script that deletes it, so none is ever left behind for an alias made again under its name.)"""


class ReleaseStore:
    def __init__(self, redis: Redis, prefix: str):
        self.redis = redis
        self.prefix = prefix
        self.triggers = TriggerStore(redis, prefix)
        self._publish = redis.register_script(_PUBLISH)
        self._delete_version = redis.register_script(_DELETE_VERSION)
        self._delete_alias = redis.register_script(_DELETE_ALIAS)
        self._put_alias = redis.register_script(_PUT_ALIAS)
        self._set_setting = redis.register_script(_SET_SETTING)

    def key(self, name: str, part: str) -> str:
        return function_part_key(self.prefix, name, part)

    def all_keys(self, name: str) -> list[str]:
        """Every key of `name`'s versions, aliases and their settings (deleted with the function)."""
        return [self.key(name, p) for p in ("versions", "version-seq", "aliases", "provision", "async-config")]

    async def delete_function(self, name: str) -> None:
        await self.redis.delete(*self.all_keys(name))

    async def images(self, name: str) -> set[str]:
        """The images the published versions of `name` run (kept while those versions exist)."""
        return {v.record.image for v in (await self.versions(name)).values() if v.record.image}

    # -- versions
    async def publish(self, name: str, function_id: str, version: Version, limit: int) -> tuple[str, str]:
        """('ok', id), ('unchanged', newest id), ('limit', '') or ('gone', '')."""
        status, vid = await self._publish(
            keys=[function_key(self.prefix, name), self.key(name, "versions"), self.key(name, "version-seq")],
            args=[function_id, version.fingerprint, version.to_json(), limit])
        return status.decode(), vid.decode()

    async def versions(self, name: str) -> dict[str, Version]:
        raw = await self.redis.hgetall(self.key(name, "versions"))
        return {k.decode(): Version.from_json(v) for k, v in raw.items()}

    async def version(self, name: str, vid: str) -> Version | None:
        raw = await self.redis.hget(self.key(name, "versions"), vid)
        return None if raw is None else Version.from_json(raw)

    async def delete_version(self, name: str, vid: str) -> str:
        result = await self._delete_version(
            keys=[self.key(name, "versions"), self.key(name, "aliases"), self.triggers.key(name),
                  self.key(name, "provision"), self.key(name, "async-config")], args=[vid])
        return result.decode()

    # -- aliases
    async def aliases(self, name: str) -> dict[str, Alias]:
        raw = await self.redis.hgetall(self.key(name, "aliases"))
        return {k.decode(): Alias.from_json(v) for k, v in raw.items()}

    async def alias_json(self, name: str, alias: str) -> bytes | None:
        return await self.redis.hget(self.key(name, "aliases"), alias)

    async def put_alias(self, name: str, alias: Alias, replaces: bytes | None, limit: int) -> str:
        result = await self._put_alias(
            keys=[self.key(name, "aliases"), self.key(name, "versions"), function_key(self.prefix, name)],
            args=[alias.name, alias.to_json(), replaces or b"", limit, *alias.versions])
        return result.decode()

    async def delete_alias(self, name: str, alias: str) -> str:
        result = await self._delete_alias(
            keys=[self.key(name, "aliases"), self.triggers.key(name), self.key(name, "provision"),
                  self.key(name, "async-config")], args=[alias])
        return result.decode()

    # -- per-qualifier settings
    async def provisions(self, name: str) -> dict[str, int]:
        raw = await self.redis.hgetall(self.key(name, "provision"))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def _set(self, name: str, part: str, qualifier: str, value: str) -> bool:
        """False when `qualifier` names no version or alias of `name` (deleted meanwhile)."""
        result = await self._set_setting(keys=[self.key(name, part), self.key(name, "versions"),
                                               self.key(name, "aliases")], args=[qualifier, value])
        return result == b"ok"

    async def set_provision(self, name: str, qualifier: str, target: int | None) -> bool:
        return await self._set(name, "provision", qualifier, str(target) if target else "")

    async def async_configs(self, name: str) -> dict[str, AsyncConfig]:
        raw = await self.redis.hgetall(self.key(name, "async-config"))
        return {k.decode(): AsyncConfig.from_api(json.loads(v)) for k, v in raw.items()}

    async def set_async_config(self, name: str, qualifier: str, config: AsyncConfig | None) -> bool:
        return await self._set(name, "async-config", qualifier, json.dumps(config.to_api()) if config else "")
