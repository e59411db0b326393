"""TtlCache: one read per key per TTL, shared by requests that miss together; errors are not kept."""

import asyncio

import pytest

from faas.cache import TtlCache


def test_concurrent_misses_share_one_read():
    reads = []

    async def load():
        reads.append(1)
        await asyncio.sleep(0.01)
        return len(reads)

    async def main():
        cache = TtlCache(60)
        values = await asyncio.gather(*(cache.get("k", load) for _ in range(20)))
        assert values == [1] * 20 and len(reads) == 1
        assert await cache.get("k", load) == 1 and len(reads) == 1
        cache.pop("k")
        assert await cache.get("k", load) == 2

    asyncio.run(main())


def test_expired_value_is_served_while_one_read_refreshes_it():
    reads = []
    release = None

    async def load():
        reads.append(1)
        if len(reads) > 1:
            await release.wait()
        return len(reads)

    async def main():
        nonlocal release
        release = asyncio.Event()
        cache = TtlCache(0.0)  # every get is expired
        assert await cache.get("k", load) == 1
        refresh = asyncio.create_task(cache.get("k", load))
        await asyncio.sleep(0)
        others = await asyncio.gather(*(cache.get("k", load) for _ in range(5)))
        assert others == [1] * 5 and len(reads) == 2  # the old value, and no second read
        release.set()
        assert await refresh == 2

    asyncio.run(main())


def test_errors_reach_every_waiter_and_are_not_kept():
    calls = []

    async def failing():
        calls.append(1)
        await asyncio.sleep(0.01)
        raise KeyError("gone")

    async def main():
        cache = TtlCache(60)
        results = await asyncio.gather(*(cache.get("k", failing) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, KeyError) for r in results) and len(calls) == 1
        with pytest.raises(KeyError):
            await cache.get("k", failing)
        assert len(calls) == 2

    asyncio.run(main())
