"""The labs agent: each validated lab result goes into the patient's deterioration features
(the vitals agent's per-patient state; bad results to deadletter with their reason)."""

from __future__ import annotations

from models.deterioration.live import deterioration_lab
from streams.app import app
from streams.topics import labs_topic
from streams.vitals.agents import apply_side_input
from wardwatch.records.labs import labs_validate
from wardwatch.topics import LABS


def _apply(state: dict, lab) -> None:
    state["deterioration"] = deterioration_lab(state.get("deterioration"), lab.to_dict())


@app.agent(labs_topic)
async def ingest_labs(stream):
    await apply_side_input(stream, labs_validate, _apply, LABS)
