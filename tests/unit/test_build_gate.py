"""The builder's gate: builds share it, an image removal has it alone, and a waiting removal goes first."""

import asyncio

from faas.builder.build import Gate


def test_builds_share_removals_wait_for_them_and_go_before_later_builds():
    async def main():
        gate, order = Gate(), []

        async def build(name, hold):
            async with gate.shared():
                order.append(f"{name}+")
                await hold.wait()
                order.append(f"{name}-")

        async def remove(name):
            async with gate.exclusive():
                order.append(name)

        first, second = asyncio.Event(), asyncio.Event()
        builds = [asyncio.create_task(build("a", first)), asyncio.create_task(build("b", first))]
        await asyncio.sleep(0)
        removal = asyncio.create_task(remove("rm"))
        await asyncio.sleep(0)
        later = asyncio.create_task(build("c", second))
        await asyncio.sleep(0)
        assert order == ["a+", "b+"]  # two builds at once; the removal and the later build wait
        first.set()
        await asyncio.gather(*builds, removal)
        second.set()
        await later
        return order

    assert asyncio.run(main()) == ["a+", "b+", "a-", "b-", "rm", "c+", "c-"]


def test_a_cancelled_removal_lets_builds_go_on():
    async def main():
        gate = Gate()
        hold = asyncio.Event()

        async def build():
            async with gate.shared():
                await hold.wait()

        running = asyncio.create_task(build())
        await asyncio.sleep(0)
        waiting = asyncio.create_task(gate.exclusive().__aenter__())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0)
        async with asyncio.timeout(5):
            async with gate.shared():  # not held back by a removal that is no longer waiting
                pass
        hold.set()
        await running

    asyncio.run(main())
