"""``wardwatch batch``: side-topic batch jobs (image, genomic, notes)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import stderr_console

app = typer.Typer(help="Side-topic batch jobs: image, genomic, notes.", no_args_is_help=True)

_BATCH_KINDS = ("image", "genomic", "notes")


def _batch_kind(kind: str) -> str:
    if kind not in _BATCH_KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(_BATCH_KINDS)}")
    return kind


@app.command("worker")
def batch_worker(
    kind: str = typer.Argument(..., help="image | genomic | notes", callback=_batch_kind),
    max_jobs: int | None = typer.Option(None, "--max-jobs", help="exit after N records"),
    idle_exit: float | None = typer.Option(None, "--idle-exit", help="exit after S idle seconds"),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run a batch worker: jobs.KIND -> results.KIND (failures -> deadletter)."""
    from batch.worker import run_worker

    run_worker(kind, max_jobs=max_jobs, idle_exit_s=idle_exit, log_level=log_level)


@app.command("submit")
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
    err = stderr_console()
    sent = submit_files(kind, paths, params)
    for m in sent:
        err.print(f"submitted [bold]{m['job_id']}[/] ({m['filename']}, {m['size_bytes']} bytes)")
    if not wait:
        print(json.dumps([{"job_id": m["job_id"], "filename": m["filename"]} for m in sent]))
        return
    ids = list(dict.fromkeys(m["job_id"] for m in sent))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task(f"{kind} jobs", total=len(ids))
        found = wait_results(kind, ids, timeout_s=timeout, on_result=lambda r: bar.advance(task))
    print(json.dumps([found[i] for i in ids if i in found], indent=2))
    missing = [i for i in ids if i not in found]
    if missing:
        err.print(f"[red]no result within {timeout:.0f} s for:[/] {', '.join(missing)}")
        raise typer.Exit(2)
    if any(found[i].get("status") != "ok" for i in ids):
        raise typer.Exit(1)
