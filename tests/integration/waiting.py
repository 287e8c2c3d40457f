"""Waiting on a condition in an integration test (brokers and workers act asynchronously): poll
it, never sleep a guessed time."""

from __future__ import annotations

import time


def wait_for(check, timeout_s: float, what: str, interval: float = 0.3):
    """``check()``'s first truthy value, polled every ``interval`` s; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        time.sleep(interval)
