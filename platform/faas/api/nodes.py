"""The nodes a front end routes to (FAAS_ROLE=frontend): listed as their heartbeats say, and drained."""

from __future__ import annotations

from aiohttp import web

from .. import defaults
from ..cluster.remote import RemotePool
from ..config import _NODE_ID_RE
from ..errors import InvalidArgument, NodeNotFound
from .keys import POOL, SETTINGS


def _describe(node, live: set[str]) -> dict:
    return {"nodeId": node.id, "address": node.address, "draining": node.draining, "takingWork": node.id in live,
            "budgetMB": node.budget_mb, "freeMB": node.free_mb, "activeInvocations": node.busy,
            "functionVersions": len(node.pools)}


async def list_nodes(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    if not isinstance(pool, RemotePool):
        return web.json_response({"role": request.app[SETTINGS].role, "nodes": []})
    live = {n.id for n in pool.members.live()}
    nodes = sorted(pool.members.nodes.values(), key=lambda n: n.id)
    return web.json_response({"role": "frontend", "nodes": [_describe(n, live) for n in nodes]})


async def drain_node(request: web.Request) -> web.Response:
    """The node takes no new invocations (every front end sees it in its next heartbeat); answered once those
    under way have ended, or after NODE_DRAIN_TIMEOUT_S with how many still run."""
    pool = request.app[POOL]
    node_id = request.match_info["node"]
    if not _NODE_ID_RE.fullmatch(node_id):
        raise InvalidArgument("a node id is 1-63 lower-case letters, digits, '.' or '-'")
    node = pool.members.nodes.get(node_id) if isinstance(pool, RemotePool) else None
    if node is None:
        raise NodeNotFound(f"no node {node_id[:64]!r} is beating" if isinstance(pool, RemotePool)
                           else "this platform runs on one host: it has no nodes to drain")
    answer = await pool.call(node, "POST", f"http://{node.address}/node/v1/drain",
                              timeout=defaults.NODE_DRAIN_TIMEOUT_S + 10)
    return web.json_response(answer)


def add_node_routes(app: web.Application) -> None:
    app.router.add_routes([web.get("/v1/nodes", list_nodes), web.post("/v1/nodes/{node}/drain", drain_node)])
