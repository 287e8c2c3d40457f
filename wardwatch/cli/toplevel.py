"""The root ``wardwatch`` app and its top-level commands: ``worker``, ``news2``, ``simulate``,
``demo`` (the sub-apps are added in :mod:`wardwatch.cli`)."""

from __future__ import annotations

import json

import typer

from wardwatch.cli.render import console, news2_table, summary_table

app = typer.Typer(help="WardWatch: streaming real-time patient monitoring.", no_args_is_help=True)


# --------------------------------------------------------------------------- stream worker
@app.command()
def worker(
    log_level: str = typer.Option("info", "--log-level"),
    role: str = typer.Option(
        None,
        "--role",
        help="all (default), stream (every agent but the InfluxDB sink), or parts, comma-separated: "
        "ward (vitals, labs, admissions, alerts), ecg (the ECG agent; alone: group <app id>-ecg), "
        "sink (the InfluxDB sink; alone: group <app id>-sink); default: WARDWATCH_WORKER_ROLE",
    ),
) -> None:
    """Run the Faust stream worker; scale out by starting more (of one role or another)."""
    import os

    from wardwatch.settings import get_settings, role_parts

    if role is not None:
        try:
            role_parts(role)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--role") from e
        os.environ["WARDWATCH_WORKER_ROLE"] = role
        get_settings.cache_clear()
    from streams.worker import run

    run(log_level)


# --------------------------------------------------------------------------- vitals / NEWS2
@app.command()
def news2(
    rr: float = typer.Option(..., "--rr", help="respiration rate, breaths/min"),
    spo2: float = typer.Option(..., "--spo2", help="SpO2, percent"),
    scale: int = typer.Option(1, "--scale", help="SpO2 scale: 1, or 2 for hypercapnic respiratory failure"),
    o2: str = typer.Option(..., "--o2", help="air or oxygen"),
    sbp: float = typer.Option(..., "--sbp", help="systolic BP, mmHg"),
    hr: float = typer.Option(..., "--hr", help="pulse, beats/min"),
    acvpu: str = typer.Option(..., "--acvpu", help="A, C, V, P or U"),
    temp: float = typer.Option(..., "--temp", help="temperature, degrees Celsius"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Score one set of observations with NEWS2 (RCP 2017)."""
    from models.vitals.news2 import news2_score

    if o2 not in ("air", "oxygen"):
        raise typer.BadParameter("--o2 must be 'air' or 'oxygen'")
    try:
        r = news2_score(
            rr_bpm=rr,
            spo2_pct=spo2,
            spo2_scale=scale,
            on_oxygen=o2 == "oxygen",
            sbp_mmhg=sbp,
            hr_bpm=hr,
            acvpu=acvpu.upper(),
            temp_c=temp,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    out = {
        "score": r.score,
        "band": r.band,
        "risk": r.risk,
        "components": r.components,
        "single_param_3": r.single_param_3,
        "response": r.response,
    }
    if json_out:
        print(json.dumps(out))
        return
    console.print(news2_table(r.components))
    console.print(f"NEWS2 [bold]{r.score}[/] (band {r.band}, {r.risk} risk)\n{r.response}")


@app.command()
def simulate(
    beds: int = typer.Option(24, "--beds", min=1),
    duration: float = typer.Option(60.0, "--duration", help="wall-clock seconds"),
    speed: float = typer.Option(1.0, "--speed", help="device seconds per wall second"),
    seed: int = typer.Option(7, "--seed"),
    fast: bool = typer.Option(False, "--fast", help="do not wait between ticks"),
    hl7: str = typer.Option(
        "", "--hl7", help="HOST:PORT: send as PCD-01 ORU^R01 over MLLP to an HL7 gateway, not to Kafka"
    ),
) -> None:
    """Produce a simulated ward's vitals to Kafka (stable, sepsis, hypoxia, bradycardia)."""
    from rich.progress import Progress

    from simulators.vitals import run_vitals_feed, ward_plan

    patients = ward_plan(beds, seed=seed)
    if hl7:
        from wardwatch.hl7.mllp import parse_hostport
        from wardwatch.hl7.simulate import run_hl7_feed

        try:
            host, port = parse_hostport(hl7)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--hl7") from None
        counts = run_hl7_feed(
            patients, host, port, duration_s=duration, speed=speed, seed=seed, realtime=not fast
        )
        console.print(f"sent {counts['sent']} ORU^R01 for {beds} beds; ACKs {counts}")
        if counts["sent"] != counts["AA"]:
            raise typer.Exit(1)
        return
    with Progress(console=console) as progress:
        task = progress.add_task("producing vitals", total=duration)
        sent = run_vitals_feed(
            patients,
            duration_s=duration,
            speed=speed,
            seed=seed,
            realtime=not fast,
            on_tick=lambda wall, _: progress.update(task, completed=wall),
        )
    console.print(f"sent {sent} readings for {beds} beds")


@app.command()
def demo(
    beds: int = typer.Option(24, "--beds", min=1),
    duration: float = typer.Option(60.0, "--duration", help="wall-clock seconds of simulation"),
    speed: float = typer.Option(30.0, "--speed", help="device seconds per wall second"),
    seed: int = typer.Option(7, "--seed"),
    ecg_beds: int = typer.Option(
        6, "--ecg-beds", min=0, help="synthetic ECG beds (VT, pause, AF, leads off, VF)"
    ),
    web: bool = typer.Option(True, "--web/--no-web", help="serve the web central station"),
    host: str = typer.Option("127.0.0.1", "--host", help="the web station's address"),
    port: int = typer.Option(
        8080, "--port", min=1, max=65535, help="the web station's port (a free one if taken)"
    ),
) -> None:
    """The main job: services up, stream worker, vitals and ECG beds, the web station, live view,
    summary. Runs until --duration ends or Ctrl-C."""
    from wardwatch.demo import run_demo
    from wardwatch.settings import get_settings

    summary = run_demo(
        get_settings(),
        beds=beds,
        duration_s=duration,
        speed=speed,
        seed=seed,
        console=console,
        ecg_beds=ecg_beds,
        web=web,
        host=host,
        port=port,
    )
    console.print(summary_table(summary))
    s = get_settings()
    console.print(
        f"Data in InfluxDB at {s.influx_url}, bucket [bold]{s.influx_bucket}[/]; e.g.\n"
        f'  from(bucket: "{s.influx_bucket}") |> range(start: -2h) '
        f'|> filter(fn: (r) => r._measurement == "news2" and r._field == "score")\n'
        "Services keep running for queries: `wardwatch services down` stops them."
    )
    if summary["vitals_points"] == 0:
        raise typer.Exit(1)
