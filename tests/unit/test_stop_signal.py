"""A TERM always stops a loop that waits on a StopSignal, even one that waits 0 s at a time (a threading.Event set
from the handler hangs on about half of such TERMs: the handler can run while the main thread holds its lock)."""

import signal
import subprocess
import sys
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"

LOOP = """
import sys
from faas.startup import StopSignal
stopping = StopSignal().install()
for n in range(ROUNDS):
    stopping.requested = False
    print(n, flush=True)
    while not stopping.is_set():
        stopping.wait(WAIT)
print("done", flush=True)
"""


def _term_each_round(wait: float, rounds: int) -> str:
    code = LOOP.replace("ROUNDS", str(rounds)).replace("WAIT", repr(wait))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=PLATFORM)
    try:
        for n in range(rounds):
            assert proc.stdout.readline().strip() == str(n)
            proc.send_signal(signal.SIGTERM)
        last = proc.stdout.readline().strip()
        assert proc.wait(timeout=60) == 0
        return last
    finally:
        proc.kill()
        proc.wait()


def test_every_term_stops_a_loop_that_waits_zero_seconds():
    assert _term_each_round(0, 300) == "done"


def test_a_term_cuts_a_long_wait_short():
    assert _term_each_round(3600, 3) == "done"  # a wait that ignored the TERM would outlast the test's time limit
