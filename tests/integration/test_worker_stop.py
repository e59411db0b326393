"""An idle async worker asked to stop leaves its wait for jobs within seconds, by a flag: it never raises out
of a signal handler into a Redis command (which once left a BLPOP pending on a pooled connection, so that the
worker's last write waited behind it and a TERM went unheeded for a minute)."""

import threading
import uuid

import pytest
from rq import Queue

from faas.config import Settings
from faas.queue.runner import EventRunner
from faas.queue.worker import FaasWorker
from faas.redisconn import connect

pytestmark = [pytest.mark.redis]


def test_an_idle_worker_asked_to_stop_leaves_its_wait_and_its_connections_clean(redis_server):
    settings = Settings(redis_url=redis_server, redis_prefix="stop" + uuid.uuid4().hex[:6])
    conn = connect(settings)
    runner = EventRunner(settings, conn)
    worker = FaasWorker([Queue(f"{settings.redis_prefix}-async", connection=conn)], connection=conn,
                        name=runner.id, runner=runner)
    worker.register_birth()
    answers: list = []
    waiting = threading.Thread(target=lambda: answers.append(worker.dequeue_job_and_maintain_ttl(
        worker.dequeue_timeout)), daemon=True)
    waiting.start()
    assert worker.dequeue_timeout > 60  # (RQ's own wait for a job, which a stop must not sit out)

    worker._shutdown()  # what a TERM's handler calls; RQ's own raised StopRequested here
    waiting.join(timeout=60)
    assert not waiting.is_alive() and answers == [None]
    worker.register_death()  # the last writes go through at once
    assert conn.ping() and conn.pipeline().ping().execute() == [True]
