"""``wardwatch bench``: load tests of the running pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from wardwatch.cli.render import console, stderr_console, summary_table

app = typer.Typer(help="Load tests of the streaming pipeline.", no_args_is_help=True)


@app.command("load")
def bench_load(
    beds: int = typer.Option(..., "--beds", min=1, help="simulated beds (1 Hz vitals each)"),
    seconds: int = typer.Option(..., "--seconds", min=5, help="seconds of real-time load"),
    workers: int = typer.Option(1, "--workers", min=1, help="`wardwatch worker` processes (one group)"),
    ecg_share: float = typer.Option(0.25, "--ecg-share", min=0.0, max=1.0, help="share of beds with ECG"),
    seed: int = typer.Option(7, "--seed"),
    drain_s: float = typer.Option(120.0, "--drain", help="longest wait for the pipeline to catch up"),
    json_out: bool = typer.Option(False, "--json", help="print the report as JSON on stdout"),
    plot: Path | None = typer.Option(None, "--plot", help="PNG of latency and lag over time"),
    keep_services: bool = typer.Option(False, "--keep-services", help="leave services this run started"),
    profile: bool = typer.Option(False, "--profile", help="run workers under cProfile (slower)"),
) -> None:
    """Drive N simulated beds (vitals 1 Hz; 2-lead 360 Hz ECG for a share) in real time through
    the real services and W workers; report alert and point latency, lag, rates, CPU, memory and
    whether every expected alert and point arrived (exit 1 if not)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from wardwatch.loadtest.run import LoadConfig, plot_series, run_load
    from wardwatch.logs import setup_logging
    from wardwatch.settings import get_settings

    setup_logging("WARNING")  # the clients' chatter off; the bench's own lines (no patient ids) on
    logging.getLogger("wardwatch.bench").setLevel(logging.INFO)
    logging.getLogger("kafka").setLevel(logging.ERROR)
    cfg = LoadConfig(beds, seconds, workers, ecg_share, seed, drain_s, keep_services, profile)
    cols = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} s"))
    with Progress(*cols, TimeElapsedColumn(), console=stderr_console()) as bar:
        task = bar.add_task("starting", total=seconds)

        def update(p) -> None:
            bar.update(task, completed=p.tick, description=f"{p.phase}: lag {p.lag}, alerts {p.alerts}")

        report, series = run_load(get_settings(), cfg, update)
    if plot is not None:
        plot_series(series, plot, f"bench load: {beds} beds, {seconds} s, {workers} worker(s)")
    if json_out:
        print(json.dumps(report))
    else:
        console.print(summary_table(report, "WardWatch bench load"))
    if not report["ok"]:
        raise typer.Exit(1)
