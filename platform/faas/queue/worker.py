"""`faas-worker`: async worker processes. Each is an RQ worker whose jobs drain the ready events.

    faas-worker              # FAAS_WORKERS processes (2 by default), restarted when one dies
    faas-worker --count 4
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time

import redis
from rq import Queue, SimpleWorker

from ..config import Settings
from ..lifeline import die_with_parent
from ..redisconn import connect
from ..startup import StopSignal, setup_logging, wait_for_redis
from .keys import Keys
from .runner import CURRENT, EventRunner

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.5, 1, 2, 5, 10)
"""Waits before restarting a worker process that died, growing while it keeps dying."""


class FaasWorker(SimpleWorker):
    """An RQ SimpleWorker (no fork per job) that keeps its heartbeat during long drain jobs and stops its
    event runner on a warm shutdown."""

    def __init__(self, *args, runner: EventRunner, **kwargs):
        super().__init__(*args, **kwargs)
        self.runner = runner

    def execute_job(self, job, queue):
        stop = threading.Event()

        def beat():
            while not stop.wait(max(1.0, self.worker_ttl / 4)):
                try:
                    self.heartbeat()
                except redis.RedisError:
                    pass

        thread = threading.Thread(target=beat, name="rq-heartbeat", daemon=True)
        thread.start()
        token = CURRENT.set(self.runner)  # the job's way to this worker's runner
        try:
            return super().execute_job(job, queue)
        finally:
            CURRENT.reset(token)
            stop.set()

    def request_stop(self, signum, frame):
        self.runner.stop()
        return super().request_stop(signum, frame)

    def teardown(self):
        # RQ stops an idle worker by raising StopRequested from the TERM handler. Raised between a BLPOP's
        # send and its answer, that hands the connection back to the pool with the BLPOP still pending, and
        # register_death would wait behind it for the whole dequeue timeout (seen: a TERM unheeded for 60 s,
        # until the kill). The idle connections go first: the last writes take new ones.
        self.connection.connection_pool.disconnect(inuse_connections=False)
        super().teardown()


def run_one(settings: Settings) -> None:
    """One worker process: lease, RQ worker loop."""
    conn = connect(settings)
    runner = EventRunner(settings, conn)
    runner.start()
    queue = Queue(Keys(settings.redis_prefix).rq_queue, connection=conn)
    worker = FaasWorker([queue], connection=conn, name=runner.id, runner=runner)
    log.info("Worker %s: taking drain jobs from %s", runner.id, queue.name)
    worker.work(with_scheduler=False, logging_level="WARNING")
    runner.stop()


def supervise(count: int) -> int:
    """Run `count` worker processes; restart one that dies; stop them all on SIGTERM or SIGINT."""
    procs: list[subprocess.Popen | None] = [None] * count
    deaths = [0] * count
    stopping = StopSignal()

    def spawn(i: int) -> None:
        # A session of its own: a Ctrl-C on the terminal reaches the supervisor, which stops them once.
        # And it dies with the supervisor, even one that was killed.
        procs[i] = subprocess.Popen([sys.executable, "-m", "faas.queue.worker", "--one"], start_new_session=True,
                                    preexec_fn=die_with_parent())

    stopping.install()
    for i in range(count):
        spawn(i)
    print(f"faas-worker: {count} worker process(es) started", flush=True)
    while not stopping.is_set():
        for i, proc in enumerate(procs):
            if proc is not None and proc.poll() is not None:
                wait = RESTART_BACKOFF_S[min(deaths[i], len(RESTART_BACKOFF_S) - 1)]
                deaths[i] += 1
                log.warning("Worker process %d exited with %s; restarting in %.1fs", proc.pid, proc.returncode, wait)
                time.sleep(wait)
                spawn(i)
        stopping.wait(0.5)
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc is not None:
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faas-worker", description="Run async worker processes.")
    parser.add_argument("--count", type=int, default=None, help="worker processes (default FAAS_WORKERS)")
    parser.add_argument("--one", action="store_true", help="be one worker process (used by the supervisor)")
    args = parser.parse_args(argv)
    setup_logging()
    settings = Settings.from_env()
    wait_for_redis(settings, threading.Event(), "faas-worker")  # it may be loading its data
    if args.one:
        run_one(settings)
        return 0
    return supervise(max(1, args.count or settings.workers))


if __name__ == "__main__":
    sys.exit(main())
