"""The control plane's notices to the log collector, written per turn of the event loop: into a real pipe,
without the collector (the reading end is the test's)."""

import asyncio
import fcntl
import os
import select

import pytest
from redis.asyncio import Redis

from faas.config import Settings
from faas.logs.attribution import Attribution
from faas.logs.reports import LogChannel, pack_lines

CID = "c" * 64


def test_packing_keeps_lines_whole_and_in_order():
    lines = [b"%d-%s\n" % (i, b"x" * (i % 50)) for i in range(500)]
    chunks = pack_lines(lines, 512)
    assert b"".join(chunks) == b"".join(lines)
    assert all(len(chunk) <= 512 and chunk.endswith(b"\n") for chunk in chunks)
    assert len(chunks) < 60  # packed, not one write per line
    assert pack_lines([], 512) == []
    assert pack_lines([b"a" * 600], 512) == [b"a" * 600]  # a line longer than the limit goes alone, whole


@pytest.fixture
def channel():
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    logs = LogChannel(Settings(platform_id="unit"), conn=Redis())  # (a client that never connects here)
    logs._fd = write
    yield logs, read
    os.close(read)
    if logs._fd is not None:
        os.close(logs._fd)


def drain(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def test_the_notices_of_one_turn_are_written_after_it_in_order(channel):
    logs, read = channel
    rids = [f"r-{i}" for i in range(300)]

    async def turn():
        logs._loop = asyncio.get_running_loop()  # as start() sets it
        for rid in rids:
            logs.begin(CID, rid)
            logs.end(CID, rid)
        written_during = drain(read)
        await asyncio.sleep(0)  # the loop's next turn
        return written_during

    assert asyncio.run(turn()) == b""
    data = drain(read)
    expected = b"".join(b"+%s %s\n-%s %s\n" % (CID[:12].encode(), r.encode(), CID[:12].encode(), r.encode())
                        for r in rids)
    assert data == expected
    state = Attribution()
    for line in data.decode().splitlines():
        state.apply(line)
    assert all(state.owns(CID[:12], rid) for rid in rids[-64:]) and not state.running


def test_a_full_pipe_drops_whole_notices_and_counts_them(channel):
    logs, read = channel
    size = fcntl.fcntl(logs._fd, getattr(fcntl, "F_GETPIPE_SZ", 1032))
    os.write(logs._fd, b"\n" * (size - 100))  # room for about one notice

    async def turn():
        logs._loop = asyncio.get_running_loop()
        for i in range(200):
            logs.begin(CID, f"request-{i}")

    asyncio.run(turn())
    assert logs.dropped > 0
    lines = drain(read).split(b"\n")
    kept = [line for line in lines if line]
    assert all(line.startswith(b"+" + CID[:12].encode() + b" request-") for line in kept)  # none cut in half
    assert len(kept) * 2 < 200 and select.PIPE_BUF <= size


def test_stop_writes_the_notices_of_its_turn(channel):
    logs, read = channel

    async def stop():
        logs._loop = asyncio.get_running_loop()
        logs.end(CID, "last")
        await logs.stop()

    logs._pending = []
    asyncio.run(stop())
    assert drain(read) == b"-%s last\n" % CID[:12].encode()
    assert logs._fd is None
