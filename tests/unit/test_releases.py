"""Versions, aliases and qualifiers as values: validation, the weighted pick, and reserved targets."""

import json
import random

import pytest

from faas.errors import InvalidArgument
from faas.models import FunctionRecord, FunctionSpec, FunctionState
from faas.qualifiers import check_qualifier
from faas.releases.model import (
    Alias,
    ProvisionConfig,
    Version,
    fingerprint,
    reserved_targets,
    snapshot,
)


def record(**spec) -> FunctionRecord:
    return FunctionRecord(spec=FunctionSpec.from_api({"name": "f", **spec}), state=FunctionState.ACTIVE, revision=4,
                          code_sha256="abc", image="img:1", created_at=1.0, updated_at=2.0, function_id="id1")


def test_qualifiers():
    for good in ("LATEST", "1", "1234567890", "prod", "a", "Blue_green-2", "a" * 128):
        assert check_qualifier(good) == good
    for bad in ("", "0", "01", "12345678901", "1a", "-a", "_a", "a b", "prod\n", "LATEST\n", "a" * 129, "é", None, 3):
        with pytest.raises(InvalidArgument):
            check_qualifier(bad)


def test_a_version_is_latest_without_its_reserved_containers():
    latest = record(reservedInstances=2, environment={"A": "1"})
    version = Version.publish(latest, {"description": "first"}, 5.0)
    assert version.record.spec.reserved_instances == 0 and version.record.spec.environment == {"A": "1"}
    # Reserved containers are not what a version runs; everything else is.
    assert version.fingerprint == fingerprint(snapshot(record(reservedInstances=0, environment={"A": "1"})))
    assert version.fingerprint != fingerprint(snapshot(record(environment={"A": "2"})))
    assert version.fingerprint != fingerprint(snapshot(record(environment={"A": "1"})).evolve(image="img:2"))
    for bad in (None, [], "x", {"description": 1}, {"description": "d" * 257}, {"other": 1}):
        with pytest.raises(InvalidArgument):
            Version.publish(latest, bad, 5.0)


def test_a_version_is_stored_with_its_id_first_and_read_back():
    version = Version.publish(record(), {}, 5.0)
    raw = version.to_json()
    # The store gives the id by replacing this prefix (in a Lua script): a value can never forge it.
    assert raw.startswith('{"versionId": "0"')
    stored = json.loads(raw.replace('{"versionId": "0"', '{"versionId": "7"', 1))
    again = Version.from_json(json.dumps(stored))
    assert again.id == "7" and again.record.version_id == "7" and again.record.pool_key == "f@7"
    assert again.record.release == ("id1", "7", 4) and again.fingerprint == version.fingerprint
    tricky = Version.publish(record(environment={"X": '{"versionId": "0"'}), {"description": '"versionId": "0"'}, 1.0)
    assert tricky.to_json().count('{"versionId": "0"') == 1


def test_alias_validation():
    Alias.from_create({"aliasName": "prod", "versionId": "1", "additionalVersionWeight": {"2": 0.5}}, 1.0)
    bad = [
        {"aliasName": "LATEST", "versionId": "1"}, {"aliasName": "Latest", "versionId": "1"},
        {"aliasName": "1", "versionId": "1"}, {"aliasName": "prod\n", "versionId": "1"},
        {"aliasName": "p", "versionId": "0"}, {"aliasName": "p", "versionId": 1}, {"aliasName": "p"},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"1": 0.5}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"2": -0.1}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"2": 1.01}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"2": float("inf")}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"2": False}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"2": "0.1"}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": {"2": 0.1, "3": 0.1}},
        {"aliasName": "p", "versionId": "1", "additionalVersionWeight": "2=0.1"},
        {"aliasName": "p", "versionId": "1", "unknown": True}, [], None,
    ]
    for body in bad:
        with pytest.raises(InvalidArgument):
            Alias.from_create(body, 1.0)


def test_alias_updates_remember_the_previous_version():
    alias = Alias.from_create({"aliasName": "prod", "versionId": "1", "additionalVersionWeight": {"2": 0.1}}, 1.0)
    same = alias.updated({"description": "d"}, 2.0)
    assert same.additional == ("2", 0.1) and same.previous_version_id is None
    moved = alias.updated({"versionId": "2"}, 3.0)
    # A move clears the additional version (which may now be the main one) unless the body sets one.
    assert moved.version_id == "2" and moved.additional is None and moved.previous_version_id == "1"
    weighted = moved.updated({"additionalVersionWeight": {"3": 0.2}}, 4.0)
    assert weighted.previous_version_id == "1" and weighted.versions == ("2", "3")
    with pytest.raises(InvalidArgument):
        alias.updated({"aliasName": "other"}, 2.0)
    assert Alias.from_json(weighted.to_json()) == weighted


def test_a_null_weight_is_no_additional_version_and_clears_one_on_update():
    # as openapi.json says: null or {} is none (an SDK may send null for a field it leaves unset)
    plain = Alias.from_create({"aliasName": "c", "versionId": "1", "additionalVersionWeight": None}, 1.0)
    assert plain.additional is None and plain.to_api()["additionalVersionWeight"] == {}
    weighted = Alias.from_create({"aliasName": "c", "versionId": "1", "additionalVersionWeight": {"2": 0.5}}, 1.0)
    assert weighted.updated({"additionalVersionWeight": None}, 2.0).additional is None
    assert weighted.updated({"description": "kept"}, 2.0).additional == ("2", 0.5)


def test_the_weighted_pick():
    alias = Alias.from_create({"aliasName": "c", "versionId": "1", "additionalVersionWeight": {"2": 0.1}}, 1.0)
    assert alias.pick(0.0) == "2" and alias.pick(0.0999) == "2" and alias.pick(0.1) == "1" and alias.pick(0.99) == "1"
    draws = random.Random(7)
    share = sum(alias.pick(draws.random()) == "2" for _ in range(100000)) / 100000
    assert 0.097 <= share <= 0.103
    none = Alias.from_create({"aliasName": "c", "versionId": "1", "additionalVersionWeight": {"2": 0}}, 1.0)
    assert {none.pick(draws.random()) for _ in range(1000)} == {"1"}
    every = Alias.from_create({"aliasName": "c", "versionId": "1", "additionalVersionWeight": {"2": 1}}, 1.0)
    assert {every.pick(draws.random()) for _ in range(1000)} == {"2"}


def test_reserved_targets_follow_versions_and_aliases():
    prod = Alias.from_create({"aliasName": "prod", "versionId": "3"}, 1.0)
    canary = Alias.from_create({"aliasName": "canary", "versionId": "3", "additionalVersionWeight": {"4": 0.25}}, 1.0)
    aliases = {"prod": prod, "canary": canary}
    assert reserved_targets({}, aliases) == {}
    assert reserved_targets({"prod": 2}, aliases) == {"3": 2}
    assert reserved_targets({"prod": 2, "3": 1}, aliases) == {"3": 3}
    # Split by weight, as traffic is: 4 * 0.25 to version 4, the rest to version 3.
    assert reserved_targets({"canary": 4}, aliases) == {"3": 3, "4": 1}
    assert reserved_targets({"canary": 1}, aliases) == {"3": 1}
    # An alias that is gone (deleted meanwhile) and zero targets count for nothing.
    assert reserved_targets({"gone": 5, "7": 0}, aliases) == {}
    moved = {"prod": prod.updated({"versionId": "4"}, 2.0), "canary": canary}
    assert reserved_targets({"prod": 2}, moved) == {"4": 2}


def test_provision_config_validation():
    assert ProvisionConfig.from_api({"target": 3}).target == 3
    for bad in ({}, {"target": -1}, {"target": 101}, {"target": 1.0}, {"target": True}, {"target": "1"},
                {"target": 1, "other": 2}, None, []):
        with pytest.raises(InvalidArgument):
            ProvisionConfig.from_api(bad)
