"""Commands packed by hand for the nonces' round trip, checked against redis-py's own packer (and so against the
protocol the server parses)."""

import pytest
from redis.connection import Connection

from faas.redisconn import packed


@pytest.mark.parametrize("args", [
    (b"EVALSHA", "a" * 40, 3, "p:access-keys:generation", "p:nonces:1700000000", 1700000905, 1, "FKA n1"),
    (b"EVAL", "return {1}\r\n-- a script may hold CRLF", 0),
    ("GET", "ключ", 0, -1, b"\x00\xff"),
    ("PING",),
])
def test_packed_is_what_redis_py_sends(args):
    assert packed(*args) == b"".join(Connection().pack_command(*args))
