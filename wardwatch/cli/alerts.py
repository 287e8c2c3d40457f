"""``wardwatch alerts``: follow and act on alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer

from wardwatch.cli.render import console

app = typer.Typer(help="Follow and act on alerts.", no_args_is_help=True)

# the options every alert subscriber (webhook, hl7) shares
PRIORITY = typer.Option([], "--priority", help="only these priorities, e.g. high,medium")
BED = typer.Option([], "--bed", help="only these beds (repeat or comma-separate)")
FROM_BEGINNING = typer.Option(False, "--from-beginning", help="a new group starts at the oldest")
BACKOFF = typer.Option(0.5, "--backoff", help="first retry delay, seconds (doubles)")
MAX_BACKOFF = typer.Option(60.0, "--max-backoff", help="longest retry delay, seconds")
CONNECT_TIMEOUT = typer.Option(10.0, "--connect-timeout", help="seconds to reach Kafka")


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


@app.command("webhook")
def alerts_webhook(
    url: str = typer.Option(..., "--url", help="the receiver (http:// or https://)"),
    secret_file: str = typer.Option(..., "--secret-file", help="shared HMAC secret, >= 32 bytes"),
    priority: list[str] = PRIORITY,
    bed: list[str] = BED,
    group: str = typer.Option("", "--group", help="consumer group (default: one per URL)"),
    from_beginning: bool = FROM_BEGINNING,
    timeout: float = typer.Option(10.0, "--timeout", help="seconds per HTTP attempt"),
    backoff: float = BACKOFF,
    max_backoff: float = MAX_BACKOFF,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> None:
    """POST every alert event as signed JSON to URL; commit only after a 2xx (README: Webhooks)."""
    from wardwatch.subscribers import webhook

    _subscribe(
        lambda: webhook.build_config(
            url,
            secret_file,
            priority,
            bed,
            group or None,
            from_beginning=from_beginning,
            timeout_s=timeout,
            backoff_s=backoff,
            max_backoff_s=max_backoff,
            connect_timeout_s=connect_timeout,
        ),
        webhook.run_subscriber,
    )


@app.command("hl7")
def alerts_hl7(
    to: str = typer.Option(..., "--to", help="HOST:PORT of the MLLP receiver (nurse call, paging gateway)"),
    priority: list[str] = PRIORITY,
    bed: list[str] = BED,
    group: str = typer.Option("", "--group", help="consumer group (default: one per receiver)"),
    from_beginning: bool = FROM_BEGINNING,
    timeout: float = typer.Option(10.0, "--timeout", help="seconds to wait for each ACK"),
    backoff: float = BACKOFF,
    max_backoff: float = MAX_BACKOFF,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> None:
    """Send every alert event as IHE PCD-04 ORU^R40 over MLLP; commit only after its ACK
    (README: HL7 v2 gateway)."""
    import hashlib

    from wardwatch.hl7.mllp import parse_hostport
    from wardwatch.hl7.pcd04 import R40Transport
    from wardwatch.subscribers import delivery

    def configure() -> tuple[R40Transport, delivery.DeliveryConfig]:
        host, port = parse_hostport(to)
        return R40Transport(host, port, timeout), delivery.loop_config(
            group or "wardwatch-hl7-" + hashlib.sha256(to.encode()).hexdigest()[:12],
            priority,
            bed,
            from_beginning=from_beginning,
            timeout_s=timeout,
            backoff_s=backoff,
            max_backoff_s=max_backoff,
            connect_timeout_s=connect_timeout,
        )

    _subscribe(configure, lambda tc: delivery.run_loop(delivery.DeliveryLoop(tc[1], tc[0])))


def _subscribe(configure: Callable[[], Any], run: Callable[[Any], object]) -> None:
    """Configure a subscriber (``ValueError``: one-line error, exit 2) and run it until stopped
    (Kafka unreachable: one-line error, exit 69)."""
    from wardwatch.logs import setup_logging
    from wardwatch.settings import get_settings
    from wardwatch.subscribers.delivery import EXIT_KAFKA_UNREACHABLE, KafkaUnavailable

    try:
        cfg = configure()
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    setup_logging(get_settings().log_level)
    try:
        run(cfg)
    except KafkaUnavailable as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_KAFKA_UNREACHABLE) from None
