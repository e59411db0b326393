"""The nodes a front end routes to (FAAS_ROLE=frontend): listed as their heartbeats say, and drained."""

from __future__ import annotations

from aiohttp import web

from ..config import is_node_id
from ..errors import InvalidArgument
from .keys import POOL, SETTINGS


async def list_nodes(request: web.Request) -> web.Response:
    nodes = request.app[POOL].nodes()
    if nodes is None:
        return web.json_response({"role": request.app[SETTINGS].role, "nodes": []})
    return web.json_response({"role": "frontend", "nodes": nodes})


async def drain_node(request: web.Request) -> web.Response:
    """The node takes no new invocations (every front end sees it in its next heartbeat)."""
    node_id = request.match_info["node"]
    if not is_node_id(node_id):
        raise InvalidArgument("a node id is 1-63 lower-case letters, digits, '.' or '-'")
    return web.json_response(await request.app[POOL].drain_node(node_id))


def add_node_routes(app: web.Application) -> None:
    app.router.add_routes([web.get("/v1/nodes", list_nodes), web.post("/v1/nodes/{node}/drain", drain_node)])
