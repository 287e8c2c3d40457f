"""``wardwatch bench``: load tests of the running pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from wardwatch.cli.render import console, stderr_console, summary_table

app = typer.Typer(help="Load tests of the streaming pipeline.", no_args_is_help=True)


@app.command("load")
def bench_load(  # noqa: PLR0913, PLR0917 - one typer option per parameter
    beds: int = typer.Option(..., "--beds", min=1, help="simulated beds (1 Hz vitals each)"),
    seconds: int = typer.Option(..., "--seconds", min=5, help="seconds of real-time load"),
    workers: int = typer.Option(1, "--workers", min=1, help="`wardwatch worker` processes (one group)"),
    sink_workers: int = typer.Option(
        0,
        "--sink-workers",
        min=0,
        help="InfluxDB sink processes of their own (`worker --role sink`); 0: each worker runs the sink",
    ),
    ecg_workers: int = typer.Option(
        0,
        "--ecg-workers",
        min=0,
        help="ECG processes of their own (`worker --role ecg`; the others run `--role ward`); "
        "0: each worker runs the ECG agent",
    ),
    ecg_share: float = typer.Option(0.25, "--ecg-share", min=0.0, max=1.0, help="share of beds with ECG"),
    seed: int = typer.Option(7, "--seed"),
    burst: bool = typer.Option(
        False,
        "--burst",
        help="every bed sends at the same instant of each second (the worst case) instead of the "
        "beds spread over the second in 20 groups, as a ward's monitors each keep their own clock",
    ),
    drain_s: float = typer.Option(120.0, "--drain", help="longest wait for the pipeline to catch up"),
    json_out: bool = typer.Option(False, "--json", help="print the report as JSON on stdout"),
    plot: Path | None = typer.Option(None, "--plot", help="PNG of latency and lag over time"),
    keep_services: bool = typer.Option(False, "--keep-services", help="leave services this run started"),
    keep_data: bool = typer.Option(
        False,
        "--keep-data",
        help="keep the run's own changelog topics, consumer groups and InfluxDB series "
        "(deleted at the end by default)",
    ),
    profile: bool = typer.Option(False, "--profile", help="run workers under cProfile (slower)"),
    find_max: bool = typer.Option(
        False,
        "--find-max",
        help="search the largest bed count (from --beds, doubling, then bisecting) with every "
        "alert and point delivered, bounded lag and p99 alert latency < 1 s",
    ),
    max_beds: int = typer.Option(4000, "--max-beds", min=1, help="--find-max: largest size tried"),
) -> None:
    """Drive N simulated beds (vitals 1 Hz; 2-lead 360 Hz ECG for a share) in real time through
    the real services and W workers; report alert and point latency, lag, rates, CPU, memory and
    whether every expected alert and point arrived (exit 1 if not). With --find-max: one run per
    size tried, and the largest size that met the goal (exit 1 if even --beds did not)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simulators.load import SEND_SLOTS
    from wardwatch.loadtest.run import LoadConfig, plot_series, run_load
    from wardwatch.logs import setup_logging
    from wardwatch.settings import get_settings

    _stop_cleanly_on_sigterm()
    setup_logging("WARNING")  # the clients' chatter off; the bench's own lines (no patient ids) on
    logging.getLogger("wardwatch.bench").setLevel(logging.INFO)
    logging.getLogger("kafka").setLevel(logging.ERROR)
    cols = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} s"))
    with Progress(*cols, TimeElapsedColumn(), console=stderr_console()) as bar:
        task = bar.add_task("starting", total=seconds)

        def one(n: int, keep: bool) -> tuple[dict, dict]:
            cfg = LoadConfig(
                beds=n,
                seconds=seconds,
                workers=workers,
                sink_workers=sink_workers,
                ecg_workers=ecg_workers,
                ecg_share=ecg_share,
                seed=seed,
                send_slots=1 if burst else SEND_SLOTS,
                drain_s=drain_s,
                keep_services=keep,
                keep_data=keep_data,
                profile=profile,
            )
            bar.reset(task, total=seconds)

            def update(p) -> None:
                what = f"{n} beds, {p.phase}: lag {p.lag}, alerts {p.alerts}"
                bar.update(task, completed=p.tick, description=what)

            return run_load(get_settings(), cfg, update)

        if find_max:
            _find_max(one, beds, max_beds, json_out, keep_services)
            return
        report, series = one(beds, keep_services)
    if plot is not None:
        plot_series(series, plot, f"bench load: {beds} beds, {seconds} s, {workers} worker(s)")
    if json_out:
        print(json.dumps(report))
    else:
        console.print(summary_table(report, "WardWatch bench load"))
    if not report["ok"]:
        raise typer.Exit(1)


def _stop_cleanly_on_sigterm() -> None:
    """SIGTERM (``timeout``, a CI runner, ``kill``) ends the run as Ctrl-C does: by an exception
    in the main thread, so the run's own cleanup still happens (its workers stopped, its
    compacted changelogs, groups and series deleted, the services it started stopped). Python's
    default ends the process at once: stop 48's soak, killed by ``timeout``, left 3 GB of ECG
    changelog behind that the broker's log cleaner went on compacting. A second SIGTERM during
    the cleanup is ignored (``timeout -k`` still ends it)."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _find_max(one, start: int, limit: int, json_out: bool, keep_services: bool) -> None:
    """``bench load --find-max``: :func:`wardwatch.loadtest.search.find_max` over real runs
    (services kept between them); prints every trial and the largest size that passed."""
    from wardwatch.loadtest.search import P99_ALERT_S, find_max
    from wardwatch.services import influx, kafka, stack
    from wardwatch.settings import get_settings

    s = get_settings()
    was_up = kafka.healthy(s) and influx.healthy(s)
    try:
        best, trials = find_max(lambda n: one(n, True)[0], start, limit)
    finally:
        if not (keep_services or was_up):
            stack.down(s)
    rows = [
        {
            "beds": n,
            "passed": ok,
            "alert_p99_s": r["latency_s"]["alert"]["p99"],
            "lag_grows": r["lag"]["grows"],
            "ok": r["ok"],
        }
        for n, ok, r in trials
    ]
    out = {
        "find_max": {"beds": best, "criterion": f"ok, p99 alert latency < {P99_ALERT_S} s", "trials": rows},
        "best": next((r for n, ok, r in trials if n == best and ok), None),
    }
    if json_out:
        print(json.dumps(out))
    else:
        for row in rows:
            console.print(row)
        console.print(f"largest size that met the goal: {best}")
    if best is None:
        raise typer.Exit(1)
