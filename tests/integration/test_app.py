"""The app's resources, run in-process with real Redis and Docker: each closes in a context of its own."""

import asyncio
import os
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faas.api import create_app
from faas.config import Settings
from faas.functions import FunctionService
from helpers import code_b64

pytestmark = [pytest.mark.docker, pytest.mark.redis]


def test_a_failing_close_does_not_skip_the_pool_shutdown(redis_server, docker_client, monkeypatch):
    platform_id = "t" + uuid.uuid4().hex[:10]
    token = "faas_admin_test_" + uuid.uuid4().hex
    settings = Settings.from_env(os.environ | {"FAAS_REDIS_URL": redis_server, "FAAS_PLATFORM_ID": platform_id,
                                               "FAAS_REDIS_PREFIX": f"faas-{platform_id}", "FAAS_API_TOKEN": token})
    ours = {"label": f"faas.platform={platform_id}"}

    async def failing_close(self):
        raise RuntimeError("the function service failed to close")

    # The resource closed just before the pool fails: the pool must still remove its containers.
    monkeypatch.setattr(FunctionService, "close", failing_close)

    async def run() -> BaseException | None:
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        auth = {"Authorization": f"Bearer {token}"}
        try:
            created = await client.post("/v1/functions", headers=auth, json={
                "name": "closing", "code": {"zipFile": code_b64({"index.py": "def handler(e, c):\n    return e\n"})}})
            assert created.status == 201, await created.text()
            invoked = await client.post("/v1/functions/closing/invocations", data=b"hi", headers=auth)
            assert invoked.status == 200 and await invoked.read() == b"hi"
            assert len(docker_client.containers.list(filters=ours)) == 1
        finally:
            try:
                await client.close()
            except Exception as exc:  # aiohttp raises the close's error after it has run every other one
                return exc
        return None

    error = asyncio.run(run())
    try:
        assert "failed to close" in str(error)
        assert docker_client.containers.list(all=True, filters=ours) == []
    finally:
        for container in docker_client.containers.list(all=True, filters=ours):
            container.remove(force=True)
        for image in docker_client.images.list(filters={"label": f"faas.platform={platform_id}"}):
            docker_client.images.remove(image.id, force=True)
