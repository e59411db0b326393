"""The builder: its gate (builds share it, an image removal has it alone, and a waiting removal goes first), and
its second try when the build cache hands out a layer removed meanwhile."""

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


class _Engine:
    """An engine whose first builds fail with the given errors (pure logic: no Docker here)."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.builds = 0

    async def image_id(self, ref):
        return "sha256:runtime" if ref.startswith("faas-runtime") else None

    async def build(self, context, tag, buildargs=None):
        from faas.docker_host.images import BuildResult

        self.builds += 1
        error = self.errors.pop(0) if self.errors else None
        return BuildResult(ok=error is None, log="", error=error)


def _build(engine):
    from pathlib import Path

    from faas.builder.build import Builder
    from faas.builder.prepare import PreparedCode
    from faas.config import Settings
    from faas.models import FunctionSpec

    builder = Builder(Settings(platform_id="unit"), engine)
    builder._runtime_images["python3.11"] = "faas-runtime-python:x"
    code = PreparedCode(sha256="0" * 64, paths=frozenset({"index.py"}), executables=frozenset(),
                        context=Path("/nonexistent"))
    return asyncio.run(builder.build(FunctionSpec(name="f", handler="index.handler"), code))


LOST = 'unable to find image "sha256:3da58622d31aeb31309c1d73dc9eae1ab794bd5927c0aa7fe56cc471e686fda3"'


def test_a_cached_layer_removed_during_the_build_is_built_again():
    engine = _Engine(LOST, LOST)
    assert _build(engine).status == "succeeded" and engine.builds == 3


def test_other_build_errors_and_a_lasting_cache_race_fail_the_build():
    from faas.errors import BuildFailed

    for engine, builds in ((_Engine("The command '/bin/sh' returned a non-zero code: 1"), 1),
                           (_Engine(LOST, LOST, LOST, LOST), 3)):
        try:
            _build(engine)
        except BuildFailed as exc:
            assert engine.builds == builds and "the image build failed" in str(exc)
        else:
            raise AssertionError("the build did not fail")
