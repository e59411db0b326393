"""An async worker stopped while idle leaves at once. RQ stops an idle worker by raising StopRequested from
the TERM handler; raised between a BLPOP's send and its answer, that hands the connection back to the pool
with the BLPOP pending, and the worker's last write waited behind it (a TERM went unheeded for a minute)."""

import threading
import uuid

import pytest
from rq import Queue

from faas.config import Settings
from faas.queue.runner import EventRunner
from faas.queue.worker import FaasWorker
from faas.redisconn import connect

pytestmark = [pytest.mark.redis]


def test_a_blpop_left_pending_on_a_pooled_connection_does_not_hold_up_the_workers_end(redis_server):
    settings = Settings(redis_url=redis_server, redis_prefix="stop" + uuid.uuid4().hex[:6])
    conn = connect(settings)
    runner = EventRunner(settings, conn)
    queue = Queue(f"{settings.redis_prefix}-async", connection=conn)
    worker = FaasWorker([queue], connection=conn, name=runner.id, runner=runner)
    worker.register_birth()
    # What the interrupted call leaves: its BLPOP sent, its answer never read, its connection back in the pool.
    pool = conn.connection_pool
    pending = pool.get_connection()
    pending.send_command("BLPOP", f"{settings.redis_prefix}:nothing-comes", 300)
    pool.release(pending)

    ended = threading.Event()
    threading.Thread(target=lambda: (worker.teardown(), ended.set()), daemon=True).start()
    assert ended.wait(timeout=60), "the worker's last writes waited behind the pending BLPOP"
    assert not conn.exists(worker.key) or conn.hget(worker.key, "death")  # its death was written
    assert conn.pipeline().ping().execute() == [True]
