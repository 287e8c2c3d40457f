"""The admissions agent: age, sex and ICU admission time into the patient's deterioration state
(the vitals agent's per-patient state), a discharge into :func:`streams.patients.discharge`
(open alarms resolved, the patient's state dropped); bad messages to deadletter with their
reason."""

from __future__ import annotations

from typing import Any

from models.deterioration.live import deterioration_admit
from streams.app import app
from streams.patients import discharge
from streams.topics import admissions_topic
from streams.vitals.agents import apply_side_input
from wardwatch.records.admissions import Discharge, adt_validate
from wardwatch.topics import ADMISSIONS


def _apply(state: dict, adm) -> None:
    state["deterioration"] = deterioration_admit(
        state.get("deterioration"), adm.age_years, adm.sex, adm.admit_ts
    )


async def _discharge(record: Any, partition: int) -> bool:
    if not isinstance(record, Discharge):
        return False
    why = f"discharged: {record.reason}" if record.reason else "discharged"
    await discharge(record.patient_id, partition, record.discharge_ts, why)
    return True


@app.agent(admissions_topic)
async def ingest_admissions(stream):
    await apply_side_input(stream, adt_validate, _apply, ADMISSIONS, handle=_discharge)
