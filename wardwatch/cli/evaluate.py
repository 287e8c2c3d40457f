"""``wardwatch eval``: evaluate a model on data in its source format."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import console, stderr_console

app = typer.Typer(help="Evaluate a model on data in its source format.", no_args_is_help=True)


@app.command("genomic")
def eval_genomic(
    expression: Path = typer.Option(..., "--expression", exists=True, dir_okay=False),
    labels: Path = typer.Option(..., "--labels", exists=True, dir_okay=False),
    model_dir: Path | None = typer.Option(None, "--model-dir"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Accuracy and confusion of the committed classifier on Golub-format data."""
    from batch.genomic.evaluate import genomic_evaluate

    r = genomic_evaluate(expression, labels, model_dir)
    if json_out:
        print(json.dumps(r))
        return
    console.print(
        f"accuracy {r['accuracy']:.3f} (n = {r['n']}); confusion "
        f"{r['confusion']['labels']} {r['confusion']['matrix']}"
    )


@app.command("notes")
def eval_notes(
    tsv: Path = typer.Option(
        ...,
        "--tsv",
        exists=True,
        dir_okay=False,
        help="NegEx test-set format: Report No., Concept, Sentence, Negation",
    ),
    reports: str = typer.Option("all", "--reports", help="all | dev (1-30) | heldout (31-60)"),
    deid: bool = typer.Option(
        False, "--deid", help="de-identify each sentence first, as the batch worker does"
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Negation precision/recall/F1 of the notes ConText rules on a NegEx-format file."""
    from batch.notes.negex_eval import negex_evaluate

    r = negex_evaluate(tsv, reports, deidentify=deid)
    if json_out:
        print(json.dumps(r))
        return
    n = r["negated"]
    console.print(
        f"negated P {n['precision']:.3f} R {n['recall']:.3f} F1 {n['f1']:.3f}; "
        f"accuracy {r['accuracy']:.3f} (n = {r['n']}, reports {reports})"
    )


@app.command("deid")
def eval_deid(
    corpus: Path = typer.Option(
        ...,
        "--corpus",
        exists=True,
        file_okay=False,
        help="folder with <split>.jsonl.gz (python -m batch.notes.deid_corpus)",
    ),
    split: str = typer.Option("test", "--split", help="train | dev | test | fresh | issue24"),
    show_missed: int = typer.Option(0, "--show-missed", min=0, help="list the first N misses"),
    leave_style_out: bool = typer.Option(
        False,
        "--leave-style-out",
        help="validation on train/dev only: vocabulary without one style, scored on its dev notes",
    ),
    negex: Path | None = typer.Option(
        None, "--negex", exists=True, dir_okay=False, help="NegEx TSV for --leave-style-out's vocabulary"
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Recall/precision of note de-identification per PHI category, span- and token-level."""
    from batch.notes.deid_eval import deid_evaluate, deid_leave_style_out

    if leave_style_out:
        print(json.dumps(deid_leave_style_out(corpus, negex)))
        return
    try:
        r = deid_evaluate(corpus, split, show_missed=show_missed)
    except (FileNotFoundError, ValueError) as e:
        stderr_console().print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    if json_out:
        print(json.dumps(r))
        return
    o = r["overall"]
    console.print(
        f"{split}: {r['notes']} notes; span recall {o['span']['recall']:.4f} precision "
        f"{o['span']['precision']:.4f}; token recall {o['token']['recall']:.4f} precision "
        f"{o['token']['precision']:.4f}; medical terms kept {r['medical_terms']['share_kept']}"
    )
    for cat, b in r["by_category"].items():
        rec = b["span"]["recall"]
        prec = b["span"]["precision"]
        console.print(
            f"  {cat:<12} gold {b['span']['gold']:>4}  span R {rec if rec is not None else '-'}  "
            f"P {prec if prec is not None else '-'}  token R {b['token']['recall']}"
        )
    for m in r["missed"]:
        console.print(f"  missed {m['category']}: {m['context']!r}")


@app.command("ecg")
def eval_ecg(
    records: Path = typer.Option(
        ..., "--records", exists=True, file_okay=False, help="folder of WFDB records with .atr"
    ),
    json_out: bool = typer.Option(False, "--json"),
    write_annotations: Path | None = typer.Option(
        None, "--write-annotations", help="write <record>.wwd here"
    ),
    model: Path | None = typer.Option(
        None,
        "--model",
        help="a single-lead TFLite model to evaluate alone "
        "(default: the committed single- and two-lead models)",
    ),
    leads: int = typer.Option(
        2,
        "--leads",
        min=1,
        max=2,
        help="2: also stream a record's second lead (two-lead model); 1: first only",
    ),
    resample: float | None = typer.Option(
        None,
        "--resample",
        metavar="HZ",
        help="resample each record to HZ first (e.g. 250, 500, "
        "125: a bedside monitor's rate); default: the file's",
    ),
) -> None:
    """AAMI EC57 QRS/VEB/SVEB statistics of the streaming detector + classifier on WFDB records."""
    from models.ecg.evaluate import evaluate_records

    if resample is not None and not 0 < resample < float("inf"):
        raise typer.BadParameter(f"must be a positive rate in Hz, got {resample:g}", param_hint="--resample")
    r = evaluate_records(
        records, write_annotations_dir=write_annotations, model_path=model, leads=leads, resample_hz=resample
    )
    if json_out:
        print(json.dumps(r))
        return
    for k in ("qrs", "veb", "sveb"):
        c = r[k]
        console.print(
            f"{k.upper():5s} Se {c['se']} %  +P {c['ppv']} %  (tp {c['tp']}, fn {c['fn']}, fp {c['fp']})"
        )


@app.command("deterioration")
def eval_deterioration(
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False, help=".psv folder"),
    json_out: bool = typer.Option(False, "--json"),
    predictions: Path | None = typer.Option(None, "--predictions", help="write <record>.psv here"),
    model: Path | None = typer.Option(None, "--model", help="artifact JSON (default: deployed)"),
    resamples: int = typer.Option(
        500, "--resamples", min=0, help="patient-bootstrap resamples behind ci95 (0: no intervals)"
    ),
) -> None:
    """AUROC, AUPRC, utility, NEWS2 / qSOFA AUROC of the deterioration model on challenge files,
    with 95 % intervals over patients (``ci95``)."""
    from rich.progress import Progress

    from models.deterioration.evaluate import evaluate_dir
    from models.deterioration.model import load_model
    from wardwatch.settings import get_settings

    n = len(list(data.glob("*.psv")))
    with Progress(console=stderr_console(), transient=True) as prog:
        task = prog.add_task("patients", total=n)
        r = evaluate_dir(
            data,
            load_model(str(model) if model else get_settings().deterioration_model),
            predictions,
            progress=lambda: prog.advance(task),
            resamples=resamples,
        )
    for w in r["warnings"]:
        stderr_console().print(f"[yellow]warning:[/yellow] {w}")
    if json_out:
        print(json.dumps(r))
        return
    for k, v in r.items():
        if k != "warnings":
            console.print(f"{k}: {v}")
