"""``wardwatch alerts``: follow alerts, act on them as an authenticated user, print the audit trail."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from wardwatch.cli.render import console, fail
from wardwatch.cli.users import read_password

app = typer.Typer(help="Follow and act on alerts.", no_args_is_help=True)

PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2}
#: how long ``tail`` and ``ack`` wait for a broker before they give up with an error
CONNECT_TIMEOUT_S = 8.0
#: a CLI action is sent at once: its token need not live a whole shift
CLI_TOKEN_TTL_S = 900.0
SINCE = re.compile(r"^(\d+)(s|m|h|d|w)$")


def _kafka_down(e: Exception) -> Exception:
    from wardwatch.settings import get_settings

    return fail(
        f"cannot reach Kafka at {get_settings().kafka_bootstrap} within {CONNECT_TIMEOUT_S:g} s "
        f"({type(e).__name__}); is it running (`wardwatch services status`)?",
        3,
    )


def _line(ev: dict[str, Any]) -> str:
    who = f" by {ev['by']}" if ev.get("by") else ""
    level = f" level {ev['level']}" if ev.get("origin") == "timer" and ev.get("level") else ""
    why = f" ({ev['reason']})" if ev.get("reason") and ev.get("origin") != "condition" else ""
    return (
        f"{ev['ts']} bed {ev['bed']} [bold]{ev['type']}[/] {ev['priority']}{level} "
        f"{ev['source']} {ev['alert_id']}{who}: {ev['message'][:100]}{why}"
    )


def matches(ev: dict[str, Any], bed: str | None, priority: str | None) -> bool:
    """The ``tail`` filters: the bed, and a minimum priority."""
    if bed is not None and ev.get("bed") != bed:
        return False
    return priority is None or PRIORITY_RANK.get(ev.get("priority", ""), -1) >= PRIORITY_RANK[priority]


# the options every alert subscriber (webhook, hl7) shares
PRIORITY = typer.Option([], "--priority", help="only these priorities, e.g. high,medium")
BED = typer.Option([], "--bed", help="only these beds (repeat or comma-separate)")
FROM_BEGINNING = typer.Option(False, "--from-beginning", help="a new group starts at the oldest")
BACKOFF = typer.Option(0.5, "--backoff", help="first retry delay, seconds (doubles)")
MAX_BACKOFF = typer.Option(60.0, "--max-backoff", help="longest retry delay, seconds")
CONNECT_TIMEOUT = typer.Option(10.0, "--connect-timeout", help="seconds to reach Kafka")


@app.command("tail")
def alerts_tail(
    bed: str | None = typer.Option(None, "--bed", help="only this bed"),
    priority: str | None = typer.Option(
        None, "--priority", help="only this priority and above: low, medium or high"
    ),
    from_beginning: bool = typer.Option(False, "--from-beginning"),
    json_out: bool = typer.Option(False, "--json", help="one JSON event per line"),
    seconds: float = typer.Option(0, "--seconds", help="stop after this long with nothing new (0: never)"),
) -> None:
    """Follow alert events as a subscriber would (exit code 3 when Kafka cannot be reached)."""
    from kafka.errors import KafkaError

    from wardwatch import topics
    from wardwatch.kafka_io import consume

    if priority is not None and priority not in PRIORITY_RANK:
        raise typer.BadParameter("--priority must be low, medium or high")
    try:
        for _, _, ev in consume(
            [topics.ALERTS],
            from_beginning=from_beginning,
            timeout_s=seconds or 10**9,
            connect_timeout_s=CONNECT_TIMEOUT_S,
        ):
            if not isinstance(ev, dict) or not matches(ev, bed, priority):
                continue
            if json_out:
                print(json.dumps(ev), flush=True)
            else:
                console.print(_line(ev))
    except KafkaError as e:
        raise _kafka_down(e) from None


def _login(user: str | None, password_file: Path | None) -> tuple[Any, bytes]:
    """The authenticated user and the token secret (exits with a clear error otherwise)."""
    from wardwatch.identity import authenticate, load_users
    from wardwatch.settings import get_settings

    s = get_settings()
    try:
        secret = s.auth_secret_value()
    except ValueError as e:
        raise fail(str(e), 2) from None
    except OSError as e:
        raise fail(f"cannot read the auth secret file {s.auth_secret_file}: {e.strerror}", 2) from None
    username = user or typer.prompt("User")
    try:
        users = load_users(s.users_path)
    except (OSError, ValueError) as e:
        raise fail(f"cannot read the users file {s.users_path}: {e}", 2) from None
    who = authenticate(users, username, read_password(password_file, f"Password for {username}"))
    if who is None:
        raise fail("unknown user or wrong password")
    return who, secret


def _outcome(start: dict, sent: Any, alert_id: str, wait_s: float) -> tuple[str, dict[str, Any] | None]:
    """What the alert component made of the action sent at ``sent`` (its record metadata):
    ``("event", ev)``, ``("deadletter", dl)`` or ``("none", None)`` after ``wait_s``."""
    from wardwatch import topics
    from wardwatch.kafka_io import consume

    found: list[tuple[str, dict[str, Any]]] = []

    def seen(_: Any) -> bool:
        return bool(found)

    for topic, _, v in consume([topics.ALERTS, topics.DEADLETTER], start=start, timeout_s=wait_s, stop=seen):
        if not isinstance(v, dict):
            continue
        if topic == topics.ALERTS and v.get("alert_id") == alert_id and v.get("origin") == "operator":
            found.append(("event", v))
        elif (
            topic == topics.DEADLETTER
            and v.get("source_topic") == topics.ALERTS_ACK
            and (v.get("partition"), v.get("offset")) == (sent.partition, sent.offset)
        ):
            found.append(("deadletter", v))
    return found[0] if found else ("none", None)


@app.command("ack")
def alerts_ack(
    patient_id: str = typer.Argument(...),
    alert_id: str = typer.Argument(...),
    user: str = typer.Option(
        None, "--user", envvar="WARDWATCH_USER", help="your username (asked for when not given)"
    ),
    password_file: Path | None = typer.Option(
        None, "--password-file", envvar="WARDWATCH_PASSWORD_FILE", help="read the password from this file"
    ),
    silence: float = typer.Option(
        0, "--silence", help="silence for N seconds (at most 600) instead of acknowledging"
    ),
    reason: str = typer.Option("", "--reason", help="why (kept in the audit trail)"),
    wait: float = typer.Option(
        15.0, "--wait", help="seconds to wait for the alert component's answer (0: send and return)"
    ),
) -> None:
    """Acknowledge (or silence) an alert as an authenticated user.

    The password is checked against the users file; the action goes out with a signed token that
    the alert component verifies; it publishes the resulting event (with your name) on ``alerts``
    or dead-letters the action with the reason, which this command waits for and prints (exit
    code 1 when the action was rejected, 4 when no answer came within ``--wait``).
    """
    from kafka.errors import KafkaError

    from wardwatch import topics
    from wardwatch.identity import issue_token
    from wardwatch.kafka_io import end_offsets, make_producer, send
    from wardwatch.records.actions import SILENCE_MAX_S
    from wardwatch.settings import get_settings

    if silence and not 0 < silence <= SILENCE_MAX_S:
        raise typer.BadParameter(f"--silence must be in (0, {SILENCE_MAX_S:g}] seconds")
    who, secret = _login(user, password_file)
    ttl = min(get_settings().auth_token_ttl_s, CLI_TOKEN_TTL_S)
    action: dict[str, Any] = {
        "patient_id": patient_id,
        "alert_id": alert_id,
        "action": "silence" if silence else "acknowledge",
        "token": issue_token(who, secret, time.time(), ttl),
    }
    if silence:
        action["duration_s"] = silence
    if reason:
        action["reason"] = reason
    try:
        p = make_producer(bootstrap_timeout_ms=int(CONNECT_TIMEOUT_S * 1000))
        start = end_offsets([topics.ALERTS, topics.DEADLETTER]) if wait > 0 else {}
        sent = send(p, topics.ALERTS_ACK, patient_id, action).get(timeout=30)
        p.close()
        console.print(f"{action['action']} sent for {alert_id} as {who.username} ({who.name})")
        if wait <= 0:
            return
        kind, found = _outcome(start, sent, alert_id, wait)
    except KafkaError as e:
        raise _kafka_down(e) from None
    if kind == "event" and found is not None:
        console.print(_line(found))
    elif kind == "deadletter" and found is not None:
        raise fail(f"rejected by the alert component: {found.get('reason')}")
    else:
        raise fail(
            f"no answer from the alert component within {wait:g} s (no worker running, or the alarm "
            "was already acknowledged)",
            4,
        )


def history_flux(bucket: str, patient_id: str, since: str) -> str:
    """The Flux query of ``alerts history``: every alert event point of one patient, one row per
    event (fields pivoted into columns), oldest first."""
    from wardwatch.influx_read import flux_str

    return (
        f"from(bucket: {flux_str(bucket)}) |> range(start: -{since})"
        f' |> filter(fn: (r) => r._measurement == "alerts" and r.patient == {flux_str(patient_id)})'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        ' |> group() |> sort(columns: ["_time"])'
    )


HISTORY_COLUMNS = (
    "type", "origin", "priority", "source", "bed", "alert_id", "by", "by_name", "reason", "level",
    "silenced_until", "message", "event_id",
)  # fmt: skip


@app.command("history")
def alerts_history(
    patient: str = typer.Option(..., "--patient", help="patient id"),
    since: str = typer.Option("24h", "--since", help="how far back: 90s, 30m, 24h, 7d, 2w"),
    json_out: bool = typer.Option(False, "--json", help="one JSON object per event"),
) -> None:
    """The audit trail of one patient's alarms from InfluxDB: every transition, who, when, why."""
    from wardwatch.influx_read import flux_rows
    from wardwatch.settings import get_settings

    if not SINCE.match(since):
        raise typer.BadParameter("--since is a number and a unit: s, m, h, d or w (e.g. 24h)")
    s = get_settings()
    try:
        rows = flux_rows(history_flux(s.influx_bucket, patient, since), s)
    except Exception as e:  # noqa: BLE001 - connection refused, HTTP or Flux errors alike
        raise fail(
            f"cannot read the audit trail from InfluxDB at {s.influx_url}: {type(e).__name__}: {e}"
        ) from None
    events = [
        {"time": r["_time"].isoformat(), **{k: r[k] for k in HISTORY_COLUMNS if r.get(k) not in (None, "")}}
        for r in rows
    ]
    if json_out:
        for ev in events:
            print(json.dumps(ev), flush=True)
        return
    from wardwatch.cli.render import alert_history_table

    if not events:
        console.print(f"no alert events for this patient in the last {since}")
        return
    console.print(alert_history_table(events))


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
