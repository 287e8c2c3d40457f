"""The admissions agent: age, sex and ICU admission time into the patient's deterioration state
(the vitals agent's per-patient state; bad messages to deadletter with their reason)."""

from __future__ import annotations

from models.deterioration.live import deterioration_admit
from streams.app import app
from streams.topics import admissions_topic
from streams.vitals.agents import apply_side_input
from wardwatch.records.admissions import admission_validate
from wardwatch.topics import ADMISSIONS


def _apply(state: dict, adm) -> None:
    state["deterioration"] = deterioration_admit(
        state.get("deterioration"), adm.age_years, adm.sex, adm.admit_ts
    )


@app.agent(admissions_topic)
async def ingest_admissions(stream):
    await apply_side_input(stream, admission_validate, _apply, ADMISSIONS)
