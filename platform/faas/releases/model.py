"""Versions and aliases as values (Function Compute 3.0's model), qualifiers, and the reserved containers
each version keeps. No I/O.

A version is an immutable copy of LATEST (its code, that is its image, and its configuration). An alias
names a version, and may send a share of the traffic to one additional version. A qualifier says what an
invocation or a trigger runs: LATEST, a version id or an alias name.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Any

from .. import defaults
from ..errors import InvalidArgument
from ..models import FunctionRecord, check_description
from ..qualifiers import VERSION_RE, check_alias_name, check_version_id, is_version_id


def _keys(body: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidArgument(f"unknown field(s) in {where}: {', '.join(unknown)}")
    return body


def snapshot(latest: FunctionRecord) -> FunctionRecord:
    """What a version keeps of LATEST: all of it, except its reserved containers (a version's come from its
    provision config)."""
    return latest.evolve(spec=replace(latest.spec, reserved_instances=0))


def fingerprint(record: FunctionRecord) -> str:
    """The code and configuration a version runs: two versions with the same one would be the same."""
    spec = record.spec.to_api()
    spec.pop("reservedInstances")
    doc = {"spec": spec, "image": record.image, "codeSha256": record.code_sha256}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Version:
    record: FunctionRecord
    """The function as it was published (version_id set)."""
    description: str
    created_at: float
    fingerprint: str

    @property
    def id(self) -> str:
        return self.record.version_id

    @classmethod
    def publish(cls, latest: FunctionRecord, body: Any, now: float) -> "Version":
        """The version a publish body makes of LATEST; its id ("0" here) is given when it is stored."""
        body = _keys(body, {"description"}, "the version")
        record = snapshot(latest).evolve(version_id="0")
        return cls(record=record, description=check_description(body, ""), created_at=now,
                   fingerprint=fingerprint(record))

    def to_api(self) -> dict:
        record = self.record
        return {"versionId": self.id, "description": self.description, "createdAt": self.created_at,
                "revision": record.revision, "codeSha256": record.code_sha256, "image": record.image,
                "config": record.spec.to_api()}

    def to_json(self) -> str:
        """Stored: `versionId` first (the store gives a new version its id by replacing the first one)."""
        return json.dumps({"versionId": self.id, "versionDescription": self.description,
                           "publishedAt": self.created_at, "fingerprint": self.fingerprint} | self.record.to_api())

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Version":
        data = json.loads(raw)
        return cls(record=FunctionRecord.from_api(data, version_id=data["versionId"]),
                   description=data.get("versionDescription", ""), created_at=data["publishedAt"],
                   fingerprint=data["fingerprint"])


def _weights(raw: Any, main: str) -> tuple[str, float] | None:
    """additionalVersionWeight: {"<version id>": weight}, one entry at most, weight from 0 to 1."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise InvalidArgument("additionalVersionWeight must be an object with one entry at most: "
                              "{\"<version id>\": <weight from 0 to 1>}")
    (vid, weight), = raw.items()
    if not isinstance(vid, str) or not VERSION_RE.fullmatch(vid):
        raise InvalidArgument("additionalVersionWeight: a key is a version id (1, 2, ...)")
    if vid == main:
        raise InvalidArgument("additionalVersionWeight: the additional version must differ from versionId")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
            or not 0 <= weight <= 1:
        raise InvalidArgument("additionalVersionWeight: a weight is a number from 0 to 1")
    return vid, float(weight)


@dataclass(frozen=True)
class Alias:
    name: str
    version_id: str
    additional: tuple[str, float] | None = None
    """(version id, weight): that share of invocations runs the additional version."""
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    previous_version_id: str | None = None
    """The version it named before it last moved: where `faasctl rollback` takes it."""

    _KEYS = {"aliasName", "versionId", "additionalVersionWeight", "description"}

    @classmethod
    def from_create(cls, body: Any, now: float) -> "Alias":
        body = _keys(body, cls._KEYS, "the alias")
        name = check_alias_name(body.get("aliasName"))
        main = check_version_id(body.get("versionId"))
        return cls(name=name, version_id=main, additional=_weights(body.get("additionalVersionWeight"), main),
                   description=check_description(body, ""), created_at=now, updated_at=now)

    def updated(self, body: Any, now: float) -> "Alias":
        """This alias with an update body applied. A new versionId clears the additional version unless the
        body sets one."""
        body = _keys(body, self._KEYS, "the alias")
        if "aliasName" in body and body["aliasName"] != self.name:
            raise InvalidArgument("aliasName cannot be changed")
        main = check_version_id(body["versionId"]) if "versionId" in body else self.version_id
        if "additionalVersionWeight" in body:
            additional = _weights(body["additionalVersionWeight"], main)
        elif main != self.version_id:
            additional = None
        else:
            additional = self.additional
        previous = self.version_id if main != self.version_id else self.previous_version_id
        return replace(self, version_id=main, additional=additional, updated_at=now, previous_version_id=previous,
                       description=check_description(body, self.description))

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions it sends traffic to (with a weight of 0, the additional one too: it may be raised)."""
        return (self.version_id,) if self.additional is None else (self.version_id, self.additional[0])

    def pick(self, draw: float) -> str:
        """The version one invocation runs, for `draw` uniform in [0, 1)."""
        if self.additional is not None and draw < self.additional[1]:
            return self.additional[0]
        return self.version_id

    def to_api(self) -> dict:
        return {"aliasName": self.name, "versionId": self.version_id,
                "additionalVersionWeight": {self.additional[0]: self.additional[1]} if self.additional else {},
                "description": self.description, "createdAt": self.created_at, "updatedAt": self.updated_at,
                "previousVersionId": self.previous_version_id}

    def to_json(self) -> str:
        return json.dumps(self.to_api())

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Alias":
        data = json.loads(raw)
        weights = data.get("additionalVersionWeight") or {}
        additional = next(((k, float(v)) for k, v in weights.items()), None)
        return cls(name=data["aliasName"], version_id=data["versionId"], additional=additional,
                   description=data.get("description", ""), created_at=data.get("createdAt", 0.0),
                   updated_at=data.get("updatedAt", 0.0), previous_version_id=data.get("previousVersionId"))


def reserved_targets(provisions: dict[str, int], aliases: dict[str, Alias]) -> dict[str, int]:
    """How many reserved containers each published version keeps: its own provision target, plus those of
    the aliases that point at it. An alias with an additional version splits its target by weight (rounded),
    as traffic is split. LATEST's are its reservedInstances, not counted here."""
    targets: dict[str, int] = {}
    for qualifier, count in provisions.items():
        if count <= 0:
            continue
        if is_version_id(qualifier):
            targets[qualifier] = targets.get(qualifier, 0) + count
            continue
        alias = aliases.get(qualifier)
        if alias is None:
            continue
        extra = 0
        if alias.additional is not None:
            extra = round(count * alias.additional[1])
            targets[alias.additional[0]] = targets.get(alias.additional[0], 0) + extra
        targets[alias.version_id] = targets.get(alias.version_id, 0) + count - extra
    return {vid: n for vid, n in targets.items() if n > 0}


@dataclass(frozen=True)
class ProvisionConfig:
    """FC's provision config of a qualifier: `target` reserved containers."""

    target: int

    @classmethod
    def from_api(cls, body: Any) -> "ProvisionConfig":
        body = _keys(body, {"target"}, "the provision config")
        target = body.get("target")
        low, high = defaults.RESERVED_INSTANCES_RANGE
        if isinstance(target, bool) or not isinstance(target, int) or not low <= target <= high:
            raise InvalidArgument(f"target must be a whole number from {low} to {high}")
        return cls(target=target)
