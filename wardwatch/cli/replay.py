"""``wardwatch replay``: recorded or synthetic data as live bedside feeds."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import console

app = typer.Typer(help="Replay recorded data as live bedside feeds.", no_args_is_help=True)

_HL7_HELP = "HOST:PORT: send as PCD-01 waveform ORU^R01 over MLLP to an HL7 gateway, not to Kafka"


def _play_hl7(feeds: list, hl7: str, speed: float, seconds: float | None) -> None:
    """The feeds through an HL7 gateway (``--hl7``): prints the stats and ACK counts; exit 1
    when a chunk was not answered AA."""
    from wardwatch.hl7.mllp import parse_hostport
    from wardwatch.hl7.simulate import run_hl7_ecg

    try:
        host, port = parse_hostport(hl7)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--hl7") from None
    try:
        stats, counts = run_hl7_ecg(feeds, host, port, speed=speed, seconds=seconds)
    except OSError as e:
        typer.echo(f"error: no HL7 gateway at {host}:{port} ({e.strerror or type(e).__name__})", err=True)
        raise typer.Exit(69) from None  # EX_UNAVAILABLE, as the gateway without Kafka
    print(json.dumps({**stats.__dict__, "acks": counts}))
    if counts["sent"] != counts["AA"]:
        raise typer.Exit(1)


@app.command("ecg")
def replay_ecg_cmd(
    records: Path = typer.Option(
        ...,
        "--records",
        exists=True,
        file_okay=False,
        help="folder of WFDB records (.hea/.dat), e.g. MIT-BIH",
    ),
    speed: float = typer.Option(1.0, "--speed", help="1 = real time; 0 = as fast as possible"),
    beds: int | None = typer.Option(None, "--beds", min=1, help="beds (default: one per record)"),
    seconds: float | None = typer.Option(None, "--seconds", help="seconds of each record"),
    start: float = typer.Option(0.0, "--start", help="start this many seconds into each record"),
    only: str | None = typer.Option(None, "--only", help="comma-separated record names"),
    prefix: str = typer.Option("MITDB", "--prefix", help="patient id prefix"),
    hl7: str = typer.Option("", "--hl7", help=_HL7_HELP),
) -> None:
    """Replay WFDB records as live bedside ECG feeds (1 s chunks) on the ``ecg`` topic, or as
    PCD-01 waveform messages to an HL7 gateway (``--hl7``)."""
    from simulators.ecg_replay import replay_ecg, replay_feeds

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    if hl7:
        feeds = replay_feeds(records, beds, only=names, start_s=start, seconds=seconds, prefix=prefix)
        _play_hl7(feeds, hl7, speed, seconds)
        return
    stats = replay_ecg(
        records, speed=speed, beds=beds, seconds=seconds, start_s=start, only=names, prefix=prefix
    )
    print(json.dumps(stats.__dict__))


@app.command("ecg-synth")
def replay_ecg_synth_cmd(
    beds: int = typer.Option(8, "--beds", min=1),
    seconds: float = typer.Option(120.0, "--seconds", help="seconds of signal per bed"),
    speed: float = typer.Option(1.0, "--speed", help="1 = real time; 0 = as fast as possible"),
    scenarios: str | None = typer.Option(
        None, "--scenarios", help="comma-separated: sinus,vrun,pause,af,leads_off,noise,brady,tachy,vf"
    ),
    seed: int = typer.Option(0, "--seed"),
    fs: float = typer.Option(360.0, "--fs"),
    prefix: str = typer.Option("SYN", "--prefix", help="patient id prefix"),
    leads: int = typer.Option(2, "--leads", min=1, max=2, help="2: lead II + V1; 1: lead II only"),
    hl7: str = typer.Option("", "--hl7", help=_HL7_HELP),
) -> None:
    """Synthetic ECG feeds with injected events (VT run, pause, AF, leads off, noise)."""
    from simulators.ecg_feed import play
    from simulators.ecg_synth import synth_beds

    names = [n.strip() for n in scenarios.split(",") if n.strip()] if scenarios else None
    feeds = synth_beds(
        beds, duration_s=seconds, fs=fs, seed=seed, scenarios=names, prefix=prefix, leads=leads
    )
    if hl7:
        _play_hl7(feeds, hl7, speed, None)
        return
    print(json.dumps(play(feeds, speed=speed).__dict__))


@app.command("trajectories")
def replay_trajectories(
    beds: int = typer.Option(4, "--beds", min=1, help="patients (the demo septic one first)"),
    hours: float = typer.Option(12.0, "--hours", help="hours of each record, ending now"),
    step_s: float = typer.Option(60.0, "--step-s", help="device seconds between readings (1 = 1 Hz)"),
    rate: float = typer.Option(0.0, "--rate", help="readings per wall second (0: as fast as possible)"),
    septic_only: bool = typer.Option(False, "--septic-only"),
    labs: bool = typer.Option(
        True, "--labs/--no-labs", help="also send each record's admission and lab results"
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Replay real PhysioNet 2019 set A trajectories (septic and not) as bedside vitals, with
    their lab results (``labs``) and admissions (``admissions``) for the full model."""
    from simulators.trajectories import DEMO_SEPTIC, load_trajectories, run_trajectory_feed

    trajs = load_trajectories(septic=True if septic_only else None)
    trajs.sort(key=lambda t: t.record != DEMO_SEPTIC)
    sent = run_trajectory_feed(trajs[:beds], hours=hours, step_s=step_s, rate=rate, seed=seed, labs=labs)
    console.print(f"sent {sent} for {min(beds, len(trajs))} patients")
