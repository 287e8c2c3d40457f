"""Terminal output of the CLI: the shared console and the rich tables the commands print."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def stderr_console() -> Console:
    """A console on stderr (progress bars and warnings, so stdout stays machine-readable)."""
    return Console(stderr=True)


def fail(message: str, code: int = 1) -> Exception:
    """Print ``error: message`` on stderr; return the exit (``raise fail(...)``) with ``code``."""
    import typer

    stderr_console().print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def alert_history_table(events: Iterable[Mapping[str, Any]]) -> Table:
    """``wardwatch alerts history``: one row per alert event, oldest first."""
    t = Table("time", "event", "priority", "source", "bed", "by", "why", "alert")
    for e in events:
        t.add_row(
            str(e["time"]),
            f"{e.get('type', '')} ({e.get('origin', '')})",
            str(e.get("priority", "")),
            str(e.get("source", "")),
            str(e.get("bed", "")),
            str(e.get("by_name") or e.get("by") or "-"),
            str(e.get("reason") or e.get("message") or ""),
            str(e.get("alert_id", "")),
        )
    return t


def services_table(rows: Iterable[Any]) -> Table:
    """``wardwatch services status``: one row per service."""
    t = Table("service", "pid", "healthy", "endpoint")
    for r in rows:
        t.add_row(r.name, str(r.pid or "-"), "[green]yes[/]" if r.healthy else "[red]no[/]", r.endpoint)
    return t


def news2_table(components: Mapping[str, int]) -> Table:
    """``wardwatch news2``: the points of each parameter."""
    t = Table("parameter", "points")
    for k, v in components.items():
        t.add_row(k, str(v))
    return t


def summary_table(summary: Mapping[str, Any], title: str = "WardWatch demo summary") -> Table:
    """``wardwatch demo`` / ``bench load``: the run's summary (dicts and lists as JSON)."""
    t = Table("summary", "value", title=title)
    for k, v in summary.items():
        t.add_row(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v))
    return t


def holdout_table(held: Mapping[str, Any]) -> Table:
    """``wardwatch calibrate deterioration``: deployed vs refitted model on the held-out patients."""
    table = Table(
        title=f"{held['site']['patients']} held-out patients ({held['site']['septic_patients']} septic)"
    )
    table.add_column("")
    for tag in held:
        table.add_column(tag, justify="right")
    for f in held["site"]["utility_by_prevalence"]:
        label = "this site's" if float(f) == 1.0 else f"{f} x this site's"
        table.add_row(
            f"utility at {label} prevalence", *[str(h["utility_by_prevalence"][f]) for h in held.values()]
        )
    for key, label in (
        ("flagged_septic_pct", "septic patients alerted, %"),
        ("flagged_non_septic_pct", "non-septic patients alerted, %"),
    ):
        table.add_row(label, *[str(h[key]) for h in held.values()])
    return table
