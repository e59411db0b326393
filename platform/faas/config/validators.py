"""Checks of names and addresses that settings and their other users share (heartbeats, node routes)."""

from __future__ import annotations

import re

PLATFORM_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
"""What a platform id may be (FAAS_PLATFORM_ID): it goes into labels and image tags."""

NODE_ID_RE = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}")
"""What a node id may be (FAAS_NODE_ID, a heartbeat's id, a drain's path): a host name, lower-case."""

_HOST_PORT = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]):([0-9]{1,5})")


def is_node_id(text: str) -> bool:
    """Whether `text` is a node id (NODE_ID_RE, the whole of it)."""
    return NODE_ID_RE.fullmatch(text) is not None


def parse_address(name: str, text: str) -> str:
    """A `host:port` setting, checked; ValueError when malformed."""
    m = _HOST_PORT.fullmatch(text)
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        raise ValueError(f"{name}: {text[:80]!r} is not host:port")
    return text


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """`host:port,host:port,...` (FAAS_REDIS_SENTINELS) as (host, port) pairs; ValueError when malformed."""
    found = []
    for part in text.split(","):
        m = _HOST_PORT.fullmatch(part.strip(" "))
        if m is None or not 1 <= int(m.group(2)) <= 65535:
            raise ValueError(f"FAAS_REDIS_SENTINELS: {part[:80]!r} is not host:port")
        found.append((m.group(1).strip("[]"), int(m.group(2))))
    if len(set(found)) != len(found):
        raise ValueError("FAAS_REDIS_SENTINELS names a Sentinel twice")
    return tuple(found)
