"""The pool's calls into a container (its initializer, an invocation), and what their answers mean."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from .. import defaults
from ..docker_host import DockerHost
from ..logs.reports import LogChannel
from ..models import FunctionRecord
from .client import NotDelivered, ProtocolError, ResponseTooLarge, RuntimeClient, RuntimeReply
from .container import RuntimeHeaders
from .instance import Instance
from .outcome import HANDLED, KILLED, NOT_DELIVERED, UNHANDLED, InitFailed, Outcome, error_type


class ContainerCalls:
    """Calls to a container's runtime through `client`; `host` says why a container stopped answering."""

    def __init__(self, client: RuntimeClient, host: DockerHost, logs: LogChannel | None = None):
        self.client = client
        self.host = host
        self.logs = logs
        self.headers = RuntimeHeaders()

    async def initialize(self, inst: Instance, record: FunctionRecord, request_id: str) -> None:
        """Run the initializer: only when the function has one (FC's protocol; a custom container may
        serve /invoke alone). InitFailed with the outcome to answer when it fails."""
        spec = record.spec
        if not spec.initializer:
            return
        headers = self.headers(record) | {"x-fc-request-id": request_id}
        if self.logs is not None:
            self.logs.begin(inst.container_id, request_id)
        try:
            reply = await self.client.initialize(inst, headers, spec.init_timeout_s)
        except TimeoutError:  # before OSError, which it is
            raise InitFailed(Outcome.failure(
                "InitializationTimeout", f"the initializer did not finish within {spec.init_timeout_s}s",
                cold_start=True, instance_id=inst.id)) from None
        except ProtocolError as exc:
            raise InitFailed(replace(invalid_reply(exc, "the initializer"), cold_start=True,
                                     instance_id=inst.id)) from None
        except (OSError, ResponseTooLarge):
            raise InitFailed(replace(await self.crash_outcome(inst, "the initializer"), cold_start=True,
                                     instance_id=inst.id)) from None
        finally:
            if self.logs is not None:
                self.logs.end(inst.container_id, request_id)
        if reply.failed:
            raise InitFailed(Outcome(body=reply.body, content_type="application/json", error=UNHANDLED,
                                     error_type=error_type(reply.body) or "InitializationError",
                                     cold_start=True, instance_id=inst.id))

    async def invoke(self, inst: Instance, event: bytes, request_id: str,
                     attempt: int) -> tuple[Outcome, RuntimeReply | None]:
        """The invocation's outcome, and the runtime's reply when there was one."""
        spec = inst.record.spec
        headers = {"x-fc-request-id": request_id}
        if attempt > 1:
            headers["x-fc-attempt"] = str(attempt)
        sent = time.time()
        try:
            reply = await self.client.invoke(inst, event, headers, defaults.RESPONSE_BYTES, spec.timeout_s,
                                             head=self.headers.encoded(inst.record))
        except TimeoutError:
            return Outcome.failure("FunctionTimeout", f"the function did not return within {spec.timeout_s}s"), None
        except ResponseTooLarge as exc:
            return Outcome.failure("ResponseTooLarge", f"{exc}; the limit is {defaults.RESPONSE_BYTES} bytes"), None
        except NotDelivered:  # no connection could be made: the request never reached the function
            return NOT_DELIVERED, None
        except ProtocolError as exc:  # an answer that breaks HTTP's rules: the container is replaced
            return invalid_reply(exc, "the function"), None
        except OSError:  # connection refused or reset, or not HTTP: the container died or misbehaves
            return await self.crash_outcome(inst, "the function", sent), None
        if not reply.failed:
            return Outcome(body=reply.body, content_type=reply.content_type or "application/octet-stream"), reply
        return Outcome(body=reply.body, content_type="application/json",
                       error=UNHANDLED if reply.unhandled else HANDLED, error_type=error_type(reply.body)), reply

    async def crash_outcome(self, inst: Instance, what: str, sent: float | None = None) -> Outcome:
        """Why the connection to a container broke: out of memory, an exit, a kill or removal from outside
        (KILLED), or NOT_DELIVERED: it had stopped before the request was `sent` (a time.time())."""
        for _ in range(50):  # Docker's die event says it exited, and a kill from outside comes before it
            if inst.exited:
                break
            await asyncio.sleep(0.02)
        else:
            await self.host.wait_exit(inst.container_id, timeout=1.0)
        status = await self.host.status(inst.container_id)
        if sent is not None and status is not None and not status.running and 0 < status.finished_at < sent:
            return NOT_DELIVERED
        if inst.killed:
            return Outcome.failure(KILLED, f"the container running {what} was killed or removed from outside "
                                   "the platform")
        if status is None:
            return Outcome.failure("ContainerGone", f"the container running {what} was removed")
        if status.oom_killed:
            return Outcome.failure("OutOfMemory", f"{what} ran out of memory (memoryMB {inst.memory_mb})")
        if not status.running:
            return Outcome.failure("RuntimeExited", f"the container running {what} exited with code "
                                   f"{status.exit_code}")
        return Outcome.failure("ConnectionLost", f"the connection to the container running {what} broke")


def invalid_reply(exc: ProtocolError, what: str) -> Outcome:
    """The outcome of a call whose reply broke the protocol's rules (UNHANDLED: its container is removed)."""
    return Outcome.failure("InvalidResponse", f"the container running {what} sent a bad reply: {exc}")
