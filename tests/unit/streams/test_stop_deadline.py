"""A worker whose stop hangs exits at its deadline (``streams.stop_deadline``): a real mode
worker in a subprocess, sent a real SIGTERM, with a service whose stop never returns (as a
Faust consumer waiting on a broker that went away)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streams.stop_deadline import EXIT_STOP_DEADLINE

SCRIPT = """
import asyncio, sys
import mode
from streams import stop_deadline

class Hangs(mode.Service):
    async def on_started(self):
        print("ready", flush=True)

    async def on_stop(self):
        if sys.argv[1] == "hang":
            await asyncio.sleep(3600)

if sys.argv[1] != "none":
    stop_deadline.install(float(sys.argv[2]))
mode.Worker(Hangs(), loglevel="info").execute_from_commandline()
"""


def _run(mode_arg: str, deadline_s: float, wait_s: float) -> tuple[int | None, float, str]:
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    p = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, mode_arg, str(deadline_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert p.stdout is not None
    deadline = time.monotonic() + 60
    while "ready" not in p.stdout.readline():
        assert time.monotonic() < deadline and p.poll() is None, "the worker did not start"
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(wait_s)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None, time.monotonic() - t0, p.stdout.read()
    return p.returncode, time.monotonic() - t0, p.stdout.read()


def test_a_stop_that_hangs_ends_at_the_deadline_with_its_exit_code():
    code, took, out = _run("hang", 1.5, 30)
    assert code == EXIT_STOP_DEADLINE, out[-2000:]
    assert 1.4 < took < 25
    assert "worker.stop_deadline" in out


def test_a_stop_that_finishes_exits_as_before():
    code, _, out = _run("ok", 30, 30)
    assert code == 0, out[-2000:]
    assert "worker.stop_deadline" not in out
