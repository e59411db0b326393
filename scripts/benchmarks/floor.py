"""The least a Python control plane on aiohttp can cost: an aiohttp server (on the platform's event loop) whose one
route sends each request to a container through the platform's own container client (faas.pool.http, over the
container's Unix socket) and answers its reply; no authentication, routing to functions, pool, counting or logs.
The warm benchmark runs it beside the platform, on the same container, as the floor that the platform's own work
sits on: what is left between the two is the platform's.

Usage: python floor.py PORT CONTAINER_PID CONTAINER_ID FUNCTION
"""

from __future__ import annotations

import sys
import uuid

from aiohttp import web

from faas import defaults
from faas.pool.http import ConnectionPool, UnixEndpoint
from faas.startup import new_event_loop


def app(pid: int, container_id: str, function: str) -> web.Application:
    pool = ConnectionPool("", 0, UnixEndpoint(pid, container_id, defaults.RUNTIME_SOCKET))
    protocol = {"x-fc-function-name": function, "x-fc-function-handler": "index.handler",
                "x-fc-function-memory": "128", "x-fc-function-timeout": "60", "x-fc-function-initializer": "",
                "x-fc-initialization-timeout": "30"}

    async def invoke(request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        reply = await pool.request("POST", "/invoke", {"x-fc-request-id": request_id, **protocol},
                                   await request.read(), 1 << 20, 60)
        return web.Response(body=reply.body, status=reply.status,
                            headers={"X-Fc-Request-Id": request_id,
                                     "Content-Type": reply.headers.get("content-type", "application/octet-stream")})

    application = web.Application()
    application.router.add_post("/invoke", invoke)
    return application


if __name__ == "__main__":
    port, pid, container_id, function = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    web.run_app(app(pid, container_id, function), host="127.0.0.1", port=port, access_log=None, print=None,
                loop=new_event_loop())
