"""The nonces' command, packed by hand as its requests arrive, checked against redis-py's own packer (and so
against the protocol the server parses)."""

import asyncio

import pytest
from redis.connection import Connection

from faas.nonces import _SHA, ADMIT, KEEP_S, _Batch
from faas.redisconn import bulk


def redis_py(*args) -> bytes:
    return b"".join(Connection().pack_command(*args))


@pytest.mark.parametrize("arg", [b"EVALSHA", "a" * 40, 3, -1, "ключ", "", b"\x00\xff",
                                 "return {1}\r\n-- a script may hold CRLF"])
def test_one_argument_is_what_redis_py_sends(arg):
    assert b"*2\r\n" + bulk(b"ECHO") + bulk(arg) == redis_py(b"ECHO", arg)


@pytest.mark.parametrize("with_script", [False, True])
def test_a_batchs_command_is_what_redis_py_sends(with_script):
    loop = asyncio.new_event_loop()
    try:
        keys = ["p:nonces:1700000000", "p:nonces:1700000000", "p:nonces:1699999999"]
        members = ["FKA n1", "", "FKB ключ"]
        batch = _Batch([loop.create_future() for _ in keys], b"".join(map(bulk, keys)), b"".join(map(bulk, members)))
        batch.with_script = with_script
        command = batch.command(bulk("p:access-keys:generation"), bulk(KEEP_S))
    finally:
        loop.close()
    head = ("EVAL", ADMIT) if with_script else ("EVALSHA", _SHA)
    assert command == redis_py(*head, len(keys) + 1, "p:access-keys:generation", *keys, KEEP_S, *members)
