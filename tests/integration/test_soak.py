"""A short run of scripts/soak: the platform as scripts/up runs it, under mixed load, with each of the six faults
once (a worker, the control plane and the log collector killed, a function container killed, Redis restarted, a
worker stopped); nothing accepted may be lost and nothing may be left behind."""

import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_loses_nothing_and_leaks_nothing():
    out = subprocess.run([str(ROOT / "scripts" / "soak"), "--minutes", "0.5", "--fault-every", "5", "--drain", "240"],
                         capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    report = out.stdout + out.stderr[-3000:]
    print(out.stdout)
    assert out.returncode == 0, report
    assert out.stdout.count("fault: ") >= 6, report  # every kind of fault happened
    assert "nothing lost, nothing leaked" in out.stdout
