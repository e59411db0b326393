"""Access keys in a real Redis, as two control planes see them: sealed secrets, revocation that holds at once
everywhere, nonces accepted once, in batches."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from faas.access_keys import AccessKeyStore
from faas.errors import AccessKeyNotFound, InvalidArgument, ServiceUnavailable
from faas.signing import Claim

pytestmark = [pytest.mark.redis]


def run(redis_server, scenario):
    async def main():
        conn = Redis.from_url(redis_server)
        try:
            return await scenario(conn, "faas-keys-" + uuid.uuid4().hex[:8])
        finally:
            await conn.aclose()
    return asyncio.run(main())


NOW = datetime.now(timezone.utc)


def claim(key_id: str, nonce: str | None) -> Claim:
    return Claim(key_id, "x", NOW, nonce)


def test_a_key_revoked_on_one_control_plane_is_seen_revoked_by_another_at_once(redis_server):
    async def scenario(conn, prefix):
        here, there = AccessKeyStore(conn, prefix, "k" * 32), AccessKeyStore(conn, prefix, "k" * 32)
        key, secret = await here.create("invoke", "ci")
        found = await there.lookup(key.id)
        assert found is not None and found.secret == secret and found.key.role.value == "invoke"
        assert (await there.lookup(key.id)) is found  # kept: no round trip for the record
        first, generation = await there.admit(claim(key.id, "n1"))
        assert first and generation == found.generation
        await here.revoke(key.id)
        # The next request on the other control plane learns the generation moved on, with its nonce ...
        first, generation = await there.admit(claim(key.id, "n2"))
        assert first and generation != found.generation
        # ... and reads the record again (what faas.compat.signed does): gone.
        assert await there.lookup(key.id, fresh=True) is None
        assert await there.lookup(key.id) is None
        with pytest.raises(AccessKeyNotFound):
            await there.revoke(key.id)
        return True

    assert run(redis_server, scenario)


def test_secrets_are_sealed_under_the_platform_key(redis_server):
    async def scenario(conn, prefix):
        store = AccessKeyStore(conn, prefix, "k" * 32)
        key, secret = await store.create("admin", "sealed")
        raw = (await conn.hget(f"{prefix}:access-keys", key.id)).decode()
        assert secret not in raw and "sealed" in raw
        assert await AccessKeyStore(conn, prefix, "other" * 8).lookup(key.id) is None  # another key opens nothing
        with pytest.raises(ServiceUnavailable, match="FAAS_SECRET_KEY"):
            await AccessKeyStore(conn, prefix, "").create("admin", "none")
        assert await AccessKeyStore(conn, prefix, "").lookup(key.id) is None
        # A sealed secret copied to another id does not open there (the id is the seal's associated data).
        other, _ = await store.create("admin", "other")
        record = (await conn.hget(f"{prefix}:access-keys", other.id)).decode()
        await conn.hset(f"{prefix}:access-keys", other.id, record.replace(
            record.split('"sealed": "')[1].split('"')[0], raw.split('"sealed": "')[1].split('"')[0]))
        assert await AccessKeyStore(conn, prefix, "k" * 32).lookup(other.id) is None
        for bad in (("root", "x"), ("admin", ""), ("admin", "a\nb"), ("admin", "x" * 65)):
            with pytest.raises(InvalidArgument):
                await store.create(*bad)
        assert [k.id for k in await store.list()] == [key.id, other.id]
        assert await store.lookup("FK" + "0" * 18) is None and await store.lookup("not an id\n") is None
        return True

    assert run(redis_server, scenario)


def test_nonces_are_accepted_once_across_control_planes_and_within_a_batch(redis_server):
    async def scenario(conn, prefix):
        here, there = AccessKeyStore(conn, prefix, "k" * 32), AccessKeyStore(conn, prefix, "k" * 32)
        # One loop iteration's requests go in one round trip: 40 distinct nonces, then 10 repeated within the batch.
        nonces = [f"n{i}" for i in range(40)] + ["n1"] * 10
        results = await asyncio.gather(*(here.admit(claim("FKA", n)) for n in nonces))
        assert [first for first, _ in results] == [True] * 40 + [False] * 10
        assert not (await there.admit(claim("FKA", "n5")))[0]  # the other control plane refuses it too
        assert (await there.admit(claim("FKB", "n5")))[0]  # the same nonce with another key is another request
        assert (await there.admit(claim("FKA", None)))[0]  # FC 2.0: no nonce, only the generation
        expires = await conn.expiretime(f"{prefix}:nonces:{int(NOW.timestamp())}")
        assert expires == int(NOW.timestamp()) + 15 * 60 + 5  # as long as a request of that second is accepted
        return True

    assert run(redis_server, scenario)


def test_nonce_round_trips_survive_a_killed_connection_and_a_flushed_script_cache(redis_server):
    """The nonces' own connection, cut by Redis (CLIENT KILL: a restart or a failover looks the same), is made again
    for the next round trip; after SCRIPT FLUSH the script goes with the command. Requests of two seconds in one
    round trip each land in their own second's bucket."""
    async def scenario(conn, prefix):
        store = AccessKeyStore(conn, prefix, "k" * 32)
        assert (await store.admit(claim("FKA", "before")))[0]
        killed = await conn.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        assert killed >= 1  # the nonces' connection was among them
        assert (await store.admit(claim("FKA", "after-kill")))[0]
        await conn.script_flush()
        assert (await store.admit(claim("FKA", "after-flush")))[0]
        assert not (await store.admit(claim("FKA", "after-flush")))[0]
        earlier = Claim("FKA", "x", NOW - timedelta(seconds=3), "two-seconds")
        results = await asyncio.gather(store.admit(claim("FKA", "two-seconds")), store.admit(earlier),
                                       store.admit(earlier))
        assert [first for first, _ in results] == [True, True, False]
        second = int(NOW.timestamp())
        assert await conn.sismember(f"{prefix}:nonces:{second - 3}", "FKA two-seconds")
        assert await conn.expiretime(f"{prefix}:nonces:{second - 3}") == second - 3 + 15 * 60 + 5
        return True

    assert run(redis_server, scenario)


def test_a_round_trip_cut_before_its_reply_is_sent_once_more_on_a_new_connection(redis_server):
    """Redis holds the round trip (CLIENT PAUSE WRITE) while its connection is cut: the batch goes again on a new
    connection and is answered once Redis goes on; its nonce is kept once."""
    async def scenario(conn, prefix):
        store = AccessKeyStore(conn, prefix, "k" * 32)
        assert (await store.admit(claim("FKA", "warm")))[0]  # the nonces' connection is made
        await conn.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
        try:
            pending = asyncio.ensure_future(store.admit(claim("FKA", "in-flight")))
            for _ in range(500):  # until the round trip is out, held by the pause
                if store._nonces._flight is not None:
                    break
                await asyncio.sleep(0.01)
            assert store._nonces._flight is not None
            killed = await conn.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            assert killed >= 1
        finally:
            await conn.execute_command("CLIENT", "UNPAUSE")
        first, _ = await asyncio.wait_for(pending, 30)
        assert first
        assert await conn.sismember(f"{prefix}:nonces:{int(NOW.timestamp())}", "FKA in-flight")
        assert not (await store.admit(claim("FKA", "in-flight")))[0]
        return True

    assert run(redis_server, scenario)


def test_an_error_reply_fails_its_batch_as_redis_py_would_and_the_connection_goes_on(redis_server):
    """Redis refuses the round trip (a bucket that is not a set: WRONGTYPE): its requests fail with redis-py's own
    exception, and the next round trip on the same connection is answered."""
    async def scenario(conn, prefix):
        store = AccessKeyStore(conn, prefix, "k" * 32)
        earlier = Claim("FKA", "x", NOW - timedelta(seconds=7), "n1")
        await conn.set(f"{prefix}:nonces:{int(earlier.signed_at.timestamp())}", "not a set")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await store.admit(earlier)
        assert (await store.admit(claim("FKA", "n1")))[0]
        return True

    assert run(redis_server, scenario)
