"""Discharges in a worker that runs the ECG agent alone (``wardwatch worker --role ecg``, group
``<app id>-ecg``): the discharged patient's ECG state leaves this worker's table and its live
detector this process, on the same ``admissions`` record that the ward's workers resolve the
patient's alarms on (:func:`streams.patients.discharge`).

Loaded only for that role (:mod:`streams.worker`): where the ward's agents run, the admissions
agent drops every state of the worker itself. A record that is not a valid discharge is passed
over here: the ward's admissions agent dead-letters what is invalid, and an admission changes
nothing in the ECG state.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.app import app
from streams.delivery import run_batches
from streams.metrics import metrics
from streams.tables import retire_patient
from streams.topics import admissions_topic
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.admissions import Discharge, adt_validate
from wardwatch.records.errors import InvalidRecord
from wardwatch.topics import ADMISSIONS

log = logging.getLogger("wardwatch.patients")

BATCH_MAX = 100  #: admissions records per batch
BATCH_WITHIN_S = 0.25


async def _drop_discharged(events: list[Any]) -> None:
    for event in events:
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            record = adt_validate(msg.value, key=key)
        except InvalidRecord:
            continue  # dead-lettered by the ward's admissions agent
        if isinstance(record, Discharge):
            await retire_patient(record.patient_id, msg.partition)
            metrics.incr("patients_discharged")
            log_event(log, "patient state dropped", patient=pid_ref(record.patient_id), why="discharged")


@app.agent(admissions_topic)
async def drop_discharged_ecg(stream: Any) -> None:
    await run_batches(stream, _drop_discharged, BATCH_MAX, BATCH_WITHIN_S, ADMISSIONS)
