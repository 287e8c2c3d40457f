"""``wardwatch alerts``: follow and act on alerts."""

from __future__ import annotations

import json

import typer

from wardwatch.cli.render import console

app = typer.Typer(help="Follow and act on alerts.", no_args_is_help=True)


@app.command("tail")
def alerts_tail(
    from_beginning: bool = typer.Option(False, "--from-beginning"),
    json_out: bool = typer.Option(False, "--json", help="one JSON event per line"),
    seconds: float = typer.Option(0, "--seconds", help="stop after this long with nothing new (0: never)"),
) -> None:
    """Follow alert events as a subscriber would."""
    from wardwatch import topics
    from wardwatch.kafka_io import consume

    for _, _, ev in consume([topics.ALERTS], from_beginning=from_beginning, timeout_s=seconds or 10**9):
        if not isinstance(ev, dict):
            continue
        if json_out:
            print(json.dumps(ev), flush=True)
        else:
            console.print(
                f"{ev['ts']} bed {ev['bed']} [bold]{ev['type']}[/] {ev['priority']} "
                f"{ev['source']} {ev['alert_id']}: {ev['message'][:100]}"
            )


@app.command("ack")
def alerts_ack(
    patient_id: str = typer.Argument(...),
    alert_id: str = typer.Argument(...),
    by: str = typer.Option(..., "--by", help="who acknowledges (user id)"),
    silence: float = typer.Option(0, "--silence", help="silence for N seconds instead of acknowledging"),
) -> None:
    """Acknowledge (or silence) an alert; the alert component publishes the resulting events."""
    from wardwatch import topics
    from wardwatch.kafka_io import make_producer, send

    action: dict[str, str | float] = {
        "patient_id": patient_id,
        "alert_id": alert_id,
        "by": by,
        "action": "silence" if silence else "acknowledge",
    }
    if silence:
        action["duration_s"] = silence
    p = make_producer()
    send(p, topics.ALERTS_ACK, patient_id, action).get(timeout=30)
    p.close()
    console.print(f"{action['action']} sent for {alert_id}")
