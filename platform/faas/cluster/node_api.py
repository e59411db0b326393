"""A front end's client of the node API (cluster/node.py): one HTTP session, the node token on every call, a
node's error raised as the FaasError it names, and the calls that go to every node at once."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from aiohttp import ClientSession, ClientTimeout, TCPConnector

from .. import defaults, errors
from ..config import Settings
from ..errors import ServiceUnavailable
from .errors import by_code
from .members import Members, NodeInfo

log = logging.getLogger(__name__)

EVERYWHERE_TIMEOUT_S = 5.0
"""Longest a listing waits for one node (one that does not answer is left out)."""


class NodeApi:
    def __init__(self, settings: Settings, members: Members):
        self.members = members
        self._auth = {"X-Faas-Node-Token": settings.node_token}
        self._session: ClientSession | None = None

    def open(self) -> None:
        """Make the session, in the loop that uses it."""
        self._session = ClientSession(
            timeout=ClientTimeout(total=None, sock_connect=defaults.NODE_CONNECT_TIMEOUT_S),
            connector=TCPConnector(limit=0, force_close=False), auto_decompress=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> ClientSession:
        """Made by open(), in the loop that uses it."""
        assert self._session is not None, "RemotePool.start() runs before any call of a node"
        return self._session

    async def call(self, node: NodeInfo, method: str, url: str, data=None, timeout: float = 30.0,
                   params: dict | None = None):
        """A call of the node API; the node's error raised as the FaasError it names."""
        try:
            async with self.session.request(method, url, data=data, headers=self._auth, params=params,
                                            timeout=ClientTimeout(total=timeout,
                                                                  sock_connect=defaults.NODE_CONNECT_TIMEOUT_S)
                                            ) as resp:
                body = await resp.read()
                if resp.status < 300:
                    return json.loads(body) if body else None
                raise node_error(resp.status, body)
        except aiohttp.ClientConnectorError as exc:
            self.members.suspect(node.id)
            raise ServiceUnavailable(f"node {node.id} cannot be reached: {exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceUnavailable(f"node {node.id} did not answer: {exc}") from None

    async def everywhere(self, method: str, path: str, params: dict | None = None,
                         timeout: float = EVERYWHERE_TIMEOUT_S) -> list:
        """`path` called on every node at once: the answers of those that answered (the others logged)."""
        nodes = list(self.members.nodes.values())
        results = await asyncio.gather(*(self.call(n, method, f"http://{n.address}{path}", params=params,
                                                   timeout=timeout) for n in nodes),
                                       return_exceptions=True)
        for node, result in zip(nodes, results):
            if isinstance(result, BaseException):
                log.warning("Node %s: %s %s failed: %s", node.id, method, path, result)
        return [r for r in results if not isinstance(r, BaseException)]

    async def listed(self, path: str, name: str, version_ids: set[str] | None) -> list[dict]:
        """Every node's list at `path` for `name`'s versions in `version_ids` (all when None), one list."""
        params = {"function": name}
        if version_ids is not None:
            params["versions"] = ",".join(sorted(version_ids))
        return [item for found in await self.everywhere("GET", path, params) for item in found]


def node_error(status: int, body: bytes) -> errors.FaasError:
    """The FaasError a node's error answer names."""
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
        image = error.get("image")
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message, image = "ServiceUnavailable", f"a node answered {status}", None
    cls = by_code(code)
    if cls is errors.FaasError or code in ("Unauthorized", "Forbidden", "InvalidArgument"):
        # the front end's own mistake with the node (a wrong node token, a malformed call): not the caller's
        return ServiceUnavailable(f"a node refused the front end's call: {code}: {message}")
    return cls(message, image=image) if isinstance(image, str) else cls(message)
