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


# --------------------------------------------------------------------------- batch jobs
_BATCH_KINDS = ("image", "genomic", "notes")


def _batch_kind(kind: str) -> str:
    if kind not in _BATCH_KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(_BATCH_KINDS)}")
    return kind


@batch_app.command("worker")
def batch_worker(
    kind: str = typer.Argument(..., help="image | genomic | notes", callback=_batch_kind),
    max_jobs: Optional[int] = typer.Option(None, "--max-jobs", help="exit after N records"),
    idle_exit: Optional[float] = typer.Option(None, "--idle-exit", help="exit after S idle seconds"),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run a batch worker: jobs.KIND -> results.KIND (failures -> deadletter)."""
    from batch.worker import run_worker

    run_worker(kind, max_jobs=max_jobs, idle_exit_s=idle_exit, log_level=log_level)


@batch_app.command("submit")
def batch_submit(
    kind: str = typer.Argument(..., help="image | genomic | notes", callback=_batch_kind),
    paths: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    wait: bool = typer.Option(False, "--wait", help="wait for the results and print them (JSON)"),
    timeout: float = typer.Option(300.0, "--timeout", help="seconds to wait with --wait"),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE job parameter (repeatable)"),
) -> None:
    """Submit files as jobs (job id = kind + content hash: resubmitting is the same job)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from batch.client import submit_files, wait_results

    params: dict[str, str] = {}
    for kv in param:
        k, sep, v = kv.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param wants KEY=VALUE, got {kv!r}")
        params[k] = v
    err = Console(stderr=True)
    sent = submit_files(kind, paths, params)
    for m in sent:
        err.print(f"submitted [bold]{m['job_id']}[/] ({m['filename']}, {m['size_bytes']} bytes)")
    if not wait:
        print(json.dumps([{"job_id": m["job_id"], "filename": m["filename"]} for m in sent]))
        return
    ids = list(dict.fromkeys(m["job_id"] for m in sent))
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(f"{kind} jobs", total=len(ids))
        found = wait_results(kind, ids, timeout_s=timeout,
                             on_result=lambda r: bar.advance(task))
    print(json.dumps([found[i] for i in ids if i in found], indent=2))
    missing = [i for i in ids if i not in found]
    if missing:
        err.print(f"[red]no result within {timeout:.0f} s for:[/] {', '.join(missing)}")
        raise typer.Exit(2)
    if any(found[i].get("status") != "ok" for i in ids):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- genomic
@train_app.command("genomic")
def train_genomic(
    expression: Optional[Path] = typer.Option(None, "--expression", help="Golub-format CSV (default: shared training set)"),
    labels: Optional[Path] = typer.Option(None, "--labels", help="patient,cancer CSV"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default models/genomic)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the ALL/AML expression classifier (Golub 1999 training set); print CV metrics."""
    from batch.genomic import train as gt

    m = gt.genomic_train(expression or gt.DEFAULT_EXPRESSION, labels or gt.DEFAULT_LABELS,
                         out or gt.MODEL_DIR, seed=seed)
    print(json.dumps({k: v for k, v in m.items() if k != "selected_probes"}, indent=2))


@eval_app.command("genomic")
def eval_genomic(
    expression: Path = typer.Option(..., "--expression", exists=True, dir_okay=False),
    labels: Path = typer.Option(..., "--labels", exists=True, dir_okay=False),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Accuracy and confusion of the committed classifier on Golub-format data."""
    from batch.genomic.evaluate import genomic_evaluate

    r = genomic_evaluate(expression, labels, model_dir)
    if json_out:
        print(json.dumps(r))
        return
    console.print(f"accuracy {r['accuracy']:.3f} (n = {r['n']}); confusion "
                  f"{r['confusion']['labels']} {r['confusion']['matrix']}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
