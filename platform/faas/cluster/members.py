"""Which nodes are up: every node agent writes a heartbeat to Redis each NODE_HEARTBEAT_S (its address, free
memory, invocations under way, and per function version its idle warm and ready reserved containers), which
expires after NODE_TTL_MS; every front end reads them each NODE_VIEW_S. A node that stops beating (dead, cut
off, or drained) is out of every ranking within NODE_TTL_MS + NODE_VIEW_S."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .. import defaults
from ..config import is_node_id, parse_address

log = logging.getLogger(__name__)


def node_key(prefix: str, node_id: str) -> str:
    return f"{prefix}:node:{node_id}"


def nodes_key(prefix: str) -> str:
    return f"{prefix}:nodes"


@dataclass(frozen=True)
class NodeInfo:
    id: str
    address: str
    budget_mb: int = 0
    free_mb: int = 0
    busy: int = 0
    """Invocations under way on it."""
    draining: bool = False
    pools: dict[str, tuple[int, int]] = field(default_factory=dict)
    """pool key (name@version) -> (idle warm containers, ready reserved containers)."""

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "address": self.address, "budgetMB": self.budget_mb,
                           "freeMB": self.free_mb, "busy": self.busy, "draining": self.draining,
                           "pools": {k: list(v) for k, v in self.pools.items()}}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> "NodeInfo":
        """A heartbeat as read from Redis; ValueError when it is not one."""
        try:
            data = json.loads(raw)
            node_id, address = data["id"], data["address"]
            if not (isinstance(node_id, str) and is_node_id(node_id) and isinstance(address, str)):
                raise ValueError("bad id or address")
            parse_address("address", address)
            pools = {}
            for key, value in data.get("pools", {}).items():
                idle, ready = value
                pools[str(key)] = (int(idle), int(ready))
            return cls(id=node_id, address=address, budget_mb=int(data.get("budgetMB", 0)),
                       free_mb=int(data.get("freeMB", 0)), busy=int(data.get("busy", 0)),
                       draining=bool(data.get("draining", False)), pools=pools)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a node heartbeat: {exc}") from None


async def beat(redis: Redis, prefix: str, info: NodeInfo) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(node_key(prefix, info.id), info.to_json(), px=defaults.NODE_TTL_MS)
        pipe.sadd(nodes_key(prefix), info.id)
        await pipe.execute()


async def leave(redis: Redis, prefix: str, node_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(node_key(prefix, node_id))
        pipe.srem(nodes_key(prefix), node_id)
        await pipe.execute()


class Members:
    """A front end's view of the live nodes, read from their heartbeats. `on_change` is called (in a task)
    when the set of nodes that take work changes."""

    def __init__(self, redis: Redis, prefix: str, on_change: Callable[[], None] | None = None,
                 interval: float = defaults.NODE_VIEW_S):
        self.redis, self.prefix, self.on_change, self.interval = redis, prefix, on_change, interval
        self.nodes: dict[str, NodeInfo] = {}
        """Every node with a live heartbeat, draining ones too."""
        self._suspects: dict[str, float] = {}
        self._taking: set[str] = set()
        """The nodes taking work at the last change told to `on_change`."""
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        """Set once the first read has been made."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="members")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def live(self) -> list[NodeInfo]:
        """The nodes that take new work: beating, not draining, not suspected."""
        now = time.monotonic()
        return [n for n in self.nodes.values() if not n.draining and self._suspects.get(n.id, 0.0) <= now]

    def suspect(self, node_id: str) -> None:
        """A connection to `node_id` failed: leave it out for NODE_SUSPECT_S."""
        if node_id in self.nodes:
            log.warning("Node %s did not answer; left out for %.0fs", node_id, defaults.NODE_SUSPECT_S)
        self._suspects[node_id] = time.monotonic() + defaults.NODE_SUSPECT_S

    async def refresh(self) -> None:
        ids = sorted(m.decode() for m in await self.redis.smembers(nodes_key(self.prefix)))
        values = await self.redis.mget([node_key(self.prefix, i) for i in ids]) if ids else []
        found: dict[str, NodeInfo] = {}
        gone = []
        for node_id, raw in zip(ids, values):
            if raw is None:
                gone.append(node_id)
                continue
            try:
                info = NodeInfo.from_json(raw)
            except ValueError as exc:
                log.warning("Ignoring the heartbeat of node %r: %s", node_id[:64], exc)
                continue
            if info.id == node_id:
                found[node_id] = info
        if gone:
            await self.redis.srem(nodes_key(self.prefix), *gone)
        self.nodes = found
        now = time.monotonic()
        self._suspects = {k: v for k, v in self._suspects.items() if v > now}
        taking = {n.id for n in self.live()}
        if taking != self._taking:  # against the last set told: a suspicion in between counts too
            self._taking = taking
            log.info("Nodes taking work: %s", ", ".join(sorted(taking)) or "none")
            if self.on_change is not None:
                self.on_change()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                self.ready.set()
            except (RedisError, OSError) as exc:
                log.warning("Cannot read the nodes' heartbeats: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Reading the nodes' heartbeats failed")
            await asyncio.sleep(self.interval)
