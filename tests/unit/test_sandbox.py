"""The platform's default sandbox and the refusal of a sandbox the engine cannot run (the service's check)."""

import asyncio
from types import SimpleNamespace

import pytest

from faas.config import Settings
from faas.errors import InvalidArgument
from faas.functions import FunctionService
from faas.models import FunctionSpec


def service(runtimes: set[str], **settings) -> FunctionService:
    class Host:
        async def runtimes(self):
            return runtimes

    builder = SimpleNamespace(settings=Settings.from_env({} | settings), host=Host())
    return FunctionService(store=None, builder=builder, pool=None, metrics=None, triggers=None, releases=None)


def sandboxed(svc: FunctionService, **spec) -> FunctionSpec:
    return asyncio.run(svc._sandboxed(FunctionSpec(name="f", **spec)))


def test_a_spec_without_a_sandbox_gets_the_platforms_default():
    assert sandboxed(service({"runc"})).sandbox == "runc"
    assert sandboxed(service({"runc", "runsc"}, FAAS_SANDBOX="gvisor")).sandbox == "gvisor"
    assert sandboxed(service({"runc", "runsc"}, FAAS_SANDBOX="gvisor"), sandbox="runc").sandbox == "runc"


def test_gvisor_is_refused_where_the_engine_has_no_runsc():
    with pytest.raises(InvalidArgument, match="runsc"):
        sandboxed(service({"runc"}), sandbox="gvisor")
    with pytest.raises(InvalidArgument, match="runsc"):
        sandboxed(service({"runc"}, FAAS_SANDBOX="gvisor"))
    assert sandboxed(service({"runc", "runsc"}), sandbox="gvisor").docker_runtime == "runsc"


def test_a_front_end_leaves_the_check_to_its_nodes():
    front = service({"runc"}, FAAS_ROLE="frontend", FAAS_NODE_TOKEN="t" * 32)
    assert sandboxed(front, sandbox="gvisor").sandbox == "gvisor"
