"""FAAS_SOCKET_DIR: each container gets a host directory of its own, mounted into it, where its runtime's
Unix socket is: a control plane or node that does not see the host's processes (Docker Swarm gives a
service no `pid: host`) still reaches runtimes over Unix sockets, not TCP."""

from __future__ import annotations

import os
import stat

import pytest

from helpers import ready_cells, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.redis]

CODE = {"index.py": "import os\ndef handler(event, context):\n    return os.environ['FC_SERVER_SOCKET']\n"}


@pytest.mark.parametrize("cells", ["0", "2"])
def test_runtimes_are_reached_through_their_own_socket_directories(start_platform, tmp_path, fn_name, cells,
                                                                   docker_client):
    sockets = tmp_path / "sockets"
    plat = start_platform(FAAS_SOCKET_DIR=str(sockets), FAAS_CELLS_MIN=cells, FAAS_CELLS_MAX=cells)
    api = plat.api
    api.deploy(fn_name, CODE)
    # (A cold start takes the image while the pool's cells are still starting, as on a loaded machine they may be.)
    wait_for(lambda: ready_cells(plat) == int(cells), timeout=120, what=f"{cells} cells ready")
    resp = api.invoke(fn_name, b"")
    assert resp.status_code == 200 and resp.text == "/run/faas-socket/runtime.sock"
    (instance,) = api.request("GET", f"/v1/functions/{fn_name}/instances").json()["instances"]
    assert instance["transport"] == "unix" and instance["startPath"] == ("cell" if cells != "0" else "image")
    mine = sockets / plat.platform_id
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o700  # only root on the host reaches into it
    container = docker_client.containers.get(instance["instanceId"])
    own = mine / container.name
    assert stat.S_ISSOCK(os.stat(own / "runtime.sock").st_mode)
    # Each container sees its own directory only.
    mounts = [m for m in container.attrs["Mounts"] if m["Destination"] == "/run/faas-socket"]
    assert [(m["Source"], m["RW"]) for m in mounts] == [(str(own), True)]
    assert api.delete(fn_name).status_code == 204
    wait_for(lambda: not own.exists(), timeout=60, what="the socket directory to go with its container")
