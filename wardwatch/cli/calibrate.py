"""``wardwatch calibrate``: fit a model's calibration and alert threshold to a site's data."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import console, holdout_table, stderr_console

app = typer.Typer(
    help="Fit a model's calibration and alert threshold to a site's own labelled data.", no_args_is_help=True
)


@app.command("deterioration")
def calibrate_deterioration(
    data: Path = typer.Option(
        ...,
        "--data",
        exists=True,
        file_okay=False,
        help=".psv folder of the site's patients, with SepsisLabel",
    ),
    out: Path = typer.Option(..., "--out", help="where to write the site artifact (JSON)"),
    model: Path | None = typer.Option(None, "--model", help="artifact JSON (default: deployed)"),
    holdout: float | None = typer.Option(
        None,
        "--holdout",
        min=0.0,
        max=0.9,
        help="share of patients held out of the fit, for the report (default 0.3)",
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Refit the Platt step and alert threshold on a site's patients; same coefficients.

    Use the result with WARDWATCH_DETERIORATION_MODEL=<out>.
    """
    from rich.progress import Progress

    from models.deterioration.dataset import build, iter_dir
    from models.deterioration.model import load_model, save_model
    from models.deterioration.site import HOLDOUT, calibrate_site
    from wardwatch.settings import get_settings

    base = load_model(str(model) if model else get_settings().deterioration_model)
    n = len(list(data.glob("*.psv")))
    with Progress(console=stderr_console(), transient=True) as prog:
        task = prog.add_task("patients", total=n)
        pms = build(iter_dir(data), base.feature_set, lambda: prog.advance(task))
    try:
        site, report = calibrate_site(base, pms, HOLDOUT if holdout is None else holdout)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    save_model(site, out)
    report["out"] = str(out)
    if json_out:
        print(json.dumps(report))
        return
    fit, held = report["fit"], report["holdout"]
    console.print(
        f"{site.version} written to {out}\nfit on {fit['patients']} patients "
        f"({fit['septic_patients']} septic): Platt step a {base.calib_a:.3f} -> "
        f"{site.calib_a:.3f}, b {base.calib_b:.3f} -> {site.calib_b:.3f}; alert "
        f"threshold {base.threshold} -> {site.threshold} (calibrated probability)"
    )
    if held:
        console.print(holdout_table(held))
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"use it: WARDWATCH_DETERIORATION_MODEL={out}")
