"""Bounded per-patient state: a discharged or long-idle patient leaves the worker's tables.

A discharge (a record on ``admissions``, see :mod:`wardwatch.records.admissions`; the CLI's
``wardwatch patients discharge``) and the idle timer both end in :func:`discharge`:

1. the patient's open alarms are resolved (:func:`models.alarms.lifecycle.alert_on_discharge`,
   reason "discharged..." or "idle...") and those events published and acknowledged first, so
   subscribers see every alarm close; the patient's ``alerts-open`` entry keeps only the
   discharge mark, so that a condition of the ended stay still on its way (a worker behind: the
   ECG worker drops its state only when it reads the discharge) raises no "ghost" alarm: it is
   dead-lettered (``out_of_order``). The alert agent's timer deletes the entry once the mark is
   :data:`models.alarms.lifecycle.DISCHARGE_MARK_S` old; the first active condition after the
   discharge (a readmission) ends the mark instead;
2. then the patient's entries of ``vitals-state`` and ``ecg-state`` are deleted
   (:meth:`streams.tables.PatientStateTable.retire`: a tombstone on the changelog partition, so
   compaction drops the patient and a restarted worker does not restore them), and the
   process-local ECG detector with them (the states this worker holds:
   :data:`streams.tables.PATIENT_STATES`).

A deployment that runs the ECG agent in workers of its own (``wardwatch worker --role ecg``,
group ``<app id>-ecg``, beside ``--role ward`` workers) drops the ECG state there, on the same
discharge record (:mod:`streams.ecg.discharges`); an ECG stream silent for
:data:`streams.ecg.agents.RETIRE_AFTER_S` leaves that table on its own, and this module's idle
timer then judges a patient by its vitals alone.

Every patient topic is keyed by patient id with the same partition count, so the partition of
the discharge record (or of the state, for the timer) is the patient's partition in all three
tables. A reading that arrives after a discharge starts a new state; its alarms are raised when
it is later than the discharge (a readmission).

Idle: a patient whose ``vitals-state`` and ``ecg-state`` entries (on this worker's active
partitions) did not change for ``patient_idle_evict_h`` hours of the worker's wall clock is
evicted. The clock of a patient starts when this worker first sees it (after a restart or a
rebalance it starts again: eviction can come later than the setting, never earlier).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from models.alarms.lifecycle import AlertState, alert_on_discharge
from streams.alerts.agents import alerts_lock, open_alerts, publish_alert_events
from streams.app import app
from streams.metrics import metrics
from streams.tables import PATIENT_STATES, active_partitions, retire_patient
from wardwatch.logs import log_event, pid_ref
from wardwatch.settings import get_settings
from wardwatch.topics import VITALS

log = logging.getLogger("wardwatch.patients")

_s = get_settings()
IDLE_S = _s.patient_idle_evict_h * 3600.0
#: how often the idle timer looks (a quarter of the idle time, between 1 s and 10 min)
IDLE_CHECK_S = max(1.0, min(600.0, IDLE_S / 4)) if IDLE_S else 600.0

Marks = dict[str, tuple[Any, float]]


def idle_step(seen: Marks, current: dict[str, Any], now_s: float, idle_s: float) -> tuple[Marks, list[str]]:
    """Track when each patient's activity mark last changed.

    ``seen``: patient -> (mark, since); ``current``: patient -> its mark now (anything that
    changes with every record the patient's state takes in). Returns the new ``seen`` (patients
    no longer present are dropped) and the patients whose mark has not changed for ``idle_s``
    seconds. A patient seen for the first time, or whose mark changed, counts from ``now_s``.

    Examples
    --------
    >>> seen, idle = idle_step({}, {"P1": 5}, now_s=0.0, idle_s=10.0)
    >>> idle_step(seen, {"P1": 5}, now_s=10.0, idle_s=10.0)[1], idle_step(seen, {"P1": 6}, 10.0, 10.0)[1]
    (['P1'], [])
    """
    new: Marks = {}
    for pid, mark in current.items():
        old = seen.get(pid)
        new[pid] = (mark, old[1] if old is not None and old[0] == mark else now_s)
    return new, sorted(pid for pid, (_, since) in new.items() if now_s - since >= idle_s)


async def discharge(patient_id: str, partition: int, ts: datetime, reason: str) -> int:
    """Resolve the patient's open alarms, then drop its state (see the module docstring).
    Returns the number of alert events. Discharging a patient with no state only writes the
    mark and tombstones (a re-delivered discharge changes nothing)."""
    async with alerts_lock:
        state: AlertState = open_alerts[patient_id]  # the table's default: {}
        state, events = alert_on_discharge(state, patient_id, ts.isoformat(), reason)
        await publish_alert_events(patient_id, events)
        state["partition"] = partition
        await open_alerts.write({patient_id: state})  # the discharge mark
    await retire_patient(patient_id, partition)
    metrics.incr("patients_discharged")
    log_event(
        log,
        "patient state dropped",
        patient=pid_ref(patient_id),
        why=reason.split(":")[0],
        alerts_resolved=len(events),
    )
    return len(events)


class _Idle:
    """This worker's activity marks (process-local: a restart starts every clock again)."""

    def __init__(self) -> None:
        self.seen: Marks = {}


idle = _Idle()


async def evict_idle(now_s: float, partitions: set[int]) -> list[str]:
    """Evict the patients of ``partitions`` idle for ``IDLE_S`` (see the module docstring)."""
    current: dict[str, dict[str, Any]] = {}
    where: dict[str, int] = {}
    for table in (ps.table for ps in PATIENT_STATES):
        for pid, st in list(table.items()):
            if isinstance(st, dict) and st.get("partition") in partitions:
                current.setdefault(pid, {})[table.name] = st.get("offset")
                where[pid] = int(st["partition"])
    marks = {pid: tuple(sorted(m.items())) for pid, m in current.items()}
    idle.seen, pids = idle_step(idle.seen, marks, now_s, IDLE_S)
    hours = f"{IDLE_S / 3600:g}"
    for pid in pids:
        await discharge(pid, where[pid], datetime.fromtimestamp(now_s, UTC), f"idle: no data for {hours} h")
        idle.seen.pop(pid, None)
    return pids


@app.timer(interval=IDLE_CHECK_S)
async def evict_idle_patients() -> None:
    """Every ``IDLE_CHECK_S``: the idle patients of this worker's active partitions."""
    if not IDLE_S:
        return
    partitions = active_partitions(VITALS)
    if partitions is None:  # not assigned yet (rebalancing)
        return
    try:
        await evict_idle(time.time(), partitions)
    except Exception:
        log.exception("idle eviction failed")
        metrics.incr("idle_eviction_errors")
