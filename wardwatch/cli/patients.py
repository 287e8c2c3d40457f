"""``wardwatch patients``: patient lifecycle commands (``discharge``)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from wardwatch.cli.render import console, fail

app = typer.Typer(help="Patient lifecycle: discharge.", no_args_is_help=True)

#: how long ``discharge`` waits for a broker before it gives up with an error
CONNECT_TIMEOUT_S = 8.0


@app.command()
def discharge(
    patient_id: str = typer.Argument(..., help="the patient's id (the key of their records)"),
    reason: str = typer.Option("", "--reason", help="free text, e.g. 'to ward 7' (at most 200 characters)"),
) -> None:
    """Discharge a patient: the worker resolves their open alarms (reason "discharged") and drops
    their state (a record on ``admissions``; see ``wardwatch.records.admissions``)."""
    from kafka.errors import KafkaError

    from wardwatch import topics
    from wardwatch.kafka_io import json_bytes, make_producer, send
    from wardwatch.records.admissions import discharge_validate
    from wardwatch.records.errors import InvalidRecord
    from wardwatch.settings import get_settings

    record = {"patient_id": patient_id, "discharge_ts": datetime.now(UTC).isoformat()}
    if reason:
        record["reason"] = reason
    try:
        discharge_validate(json_bytes(record), key=patient_id)  # the worker's own check, first
    except InvalidRecord as e:
        raise typer.BadParameter(e.reason) from None
    try:
        p = make_producer(bootstrap_timeout_ms=int(CONNECT_TIMEOUT_S * 1000))
        send(p, topics.ADMISSIONS, patient_id, record).get(timeout=30)
        p.close()
    except KafkaError as e:
        raise fail(
            f"cannot reach Kafka at {get_settings().kafka_bootstrap} within {CONNECT_TIMEOUT_S:g} s "
            f"({type(e).__name__}); is it running (`wardwatch services status`)?",
            3,
        ) from None
    console.print("discharge sent: the worker resolves the open alarms and drops the patient's state")
