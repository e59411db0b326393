"""Rendezvous (highest random weight) hashing: each function version ranks the nodes by a hash of (version,
node), so that it has a home node (the first) where its warm containers gather, and a node that leaves moves
only the versions it was home to. Pure functions, so that every front end orders the nodes alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class Ranked(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=Ranked)


def weight(key: str, node_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{key}\0{node_id}".encode(), digest_size=8).digest(), "big")


def rank(key: str, nodes: Iterable[R]) -> list[R]:
    """`nodes` from the one `key` prefers (its home) to the one it prefers least."""
    return sorted(nodes, key=lambda n: weight(key, n.id), reverse=True)


def order(key: str, nodes: Sequence[R], warm: dict[str, int] | None = None) -> list[R]:
    """The order to offer an invocation of `key` in: the nodes that advertise an idle warm container of it
    (`warm`: node id -> idle count) in their ranked order, then the others, home first."""
    ranked = rank(key, nodes)
    if not warm:
        return ranked
    return [n for n in ranked if warm.get(n.id)] + [n for n in ranked if not warm.get(n.id)]


def least_loaded(nodes: Iterable):
    """The node with the most free memory budget, then the fewest invocations under way."""
    return max(nodes, key=lambda n: (n.free_mb, -n.busy))


class Holder(Ranked, Protocol):
    @property
    def pools(self) -> dict: ...


H = TypeVar("H", bound=Holder)


def holders(key: str, nodes: Iterable[H], copies: int) -> list[H]:
    """The nodes that should hold a release of `key`: the top `copies` of its ranking, and every other node
    that has containers of it."""
    ranked = rank(key, nodes)
    return ranked[:copies] + [n for n in ranked[copies:] if key in n.pools]


def is_home(key: str, node: Ranked, nodes: Iterable[Ranked]) -> bool:
    """`node` is the home of `key` among `nodes` (where its reserved containers live)."""
    ranked = rank(key, nodes)
    return bool(ranked) and ranked[0].id == node.id
