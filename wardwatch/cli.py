"""The ``wardwatch`` command. Thin: every command parses flags and calls one function elsewhere.

Heavy imports (Faust, TensorFlow, spaCy) happen inside the commands that need them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="WardWatch: streaming real-time patient monitoring.", no_args_is_help=True)
services_app = typer.Typer(help="Local Kafka and InfluxDB on loopback.", no_args_is_help=True)
train_app = typer.Typer(help="Rebuild a trained model deterministically.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a model on data in its source format.", no_args_is_help=True)
replay_app = typer.Typer(help="Replay recorded data as live bedside feeds.", no_args_is_help=True)
batch_app = typer.Typer(help="Side-topic batch jobs: image, genomic, notes.", no_args_is_help=True)
alerts_app = typer.Typer(help="Follow and act on alerts.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(replay_app, name="replay")
app.add_typer(batch_app, name="batch")
app.add_typer(alerts_app, name="alerts")

console = Console()


def _settings():
    from wardwatch.settings import get_settings

    return get_settings()


# --------------------------------------------------------------------------- services
@services_app.command("up")
def services_up() -> None:
    """Start Kafka and InfluxDB (fetching/building them once into the cache) and wait for health."""
    from wardwatch.services import stack

    with console.status("starting Kafka and InfluxDB (first run fetches and builds them)"):
        result = stack.up(_settings())
    for name, what in result.items():
        console.print(f"[green]{name}[/]: {what}")


@services_app.command("down")
def services_down() -> None:
    """Stop exactly the processes that ``services up`` started."""
    from wardwatch.services import stack

    for name, stopped in stack.down(_settings()).items():
        console.print(f"{name}: {'stopped' if stopped else 'was not running'}")


@services_app.command("status")
def services_status(json_out: bool = typer.Option(False, "--json")) -> None:
    """Show pid, health and endpoint of each service."""
    from wardwatch.services import stack

    rows = stack.status(_settings())
    if json_out:
        print(json.dumps([r.__dict__ for r in rows]))
        raise typer.Exit(0 if all(r.healthy for r in rows) else 1)
    t = Table("service", "pid", "healthy", "endpoint")
    for r in rows:
        t.add_row(r.name, str(r.pid or "-"), "[green]yes[/]" if r.healthy else "[red]no[/]", r.endpoint)
    console.print(t)
    raise typer.Exit(0 if all(r.healthy for r in rows) else 1)


# --------------------------------------------------------------------------- stream worker
@app.command()
def worker(log_level: str = typer.Option("info", "--log-level")) -> None:
    """Run the Faust stream worker (all stream agents); scale out by starting more."""
    from streams.worker import run

    run(log_level)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
