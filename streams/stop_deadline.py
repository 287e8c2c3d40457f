"""A worker told to stop exits within a deadline, whatever its shutdown waits on.

Faust's stop runs through nested services, each waiting up to a minute (mode's
``shutdown_timeout``) and some longer: a worker sent SIGTERM under load whose Kafka went away
three seconds later took 23 minutes to exit (2026-12-05), holding its port, its pid file and
whoever waits for it (``wardwatch services down``, an orchestrator without a kill timeout, the
bench). From the first SIGTERM or SIGINT, a timer thread gives the stop
``WARDWATCH_STOP_DEADLINE_S`` (default 120) and then ends the process with exit code
:data:`EXIT_STOP_DEADLINE`, as a SIGKILL would.

That is safe by the same design that makes a killed worker safe (issue #25): outputs reach the
broker before a record's offset is committed and before its state is written, so a record whose
handling the exit cut short is read again by the next owner of its partition; nothing is lost
(``tests/integration/test_kill_rebalance.py`` kills workers mid-flow and counts every record).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from mode import worker as mode_worker

from wardwatch.logs import log_event

#: the exit code of a worker whose stop outlived its deadline (EX_SOFTWARE, sysexits.h)
EXIT_STOP_DEADLINE = 70

log = logging.getLogger("wardwatch.worker")

_armed: list[threading.Timer] = []
_original_schedule = mode_worker.Worker._schedule_shutdown


def arm(deadline_s: float, exit_fn: Callable[[int], Any] = os._exit) -> threading.Timer:
    """Start (once) the timer that ends the process ``deadline_s`` from now; returns it."""
    if _armed:
        return _armed[0]

    def fire() -> None:
        log_event(
            log, "worker.stop_deadline", logging.ERROR, deadline_s=deadline_s, exit_code=EXIT_STOP_DEADLINE
        )
        for h in logging.getLogger().handlers:
            h.flush()
        exit_fn(EXIT_STOP_DEADLINE)

    timer = threading.Timer(deadline_s, fire)
    timer.daemon = True
    timer.start()
    _armed.append(timer)
    return timer


def install(deadline_s: float) -> None:
    """Arm the deadline when mode's worker schedules its shutdown on SIGTERM or SIGINT."""

    def schedule_shutdown(self: Any, signal: Any) -> None:
        arm(deadline_s)
        _original_schedule(self, signal)

    mode_worker.Worker._schedule_shutdown = schedule_shutdown  # type: ignore[method-assign]
