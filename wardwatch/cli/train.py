"""``wardwatch train``: rebuild a trained model deterministically.

Default data paths come from the settings here (``WARDWATCH_SHARED_DATA``, ``WARDWATCH_MITDB_DS1``)
and are passed to the training code, which reads no settings itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import console

app = typer.Typer(help="Rebuild a trained model deterministically.", no_args_is_help=True)


@app.command("genomic")
def train_genomic(
    expression: Path | None = typer.Option(
        None, "--expression", help="Golub-format CSV (default: shared training set)"
    ),
    labels: Path | None = typer.Option(None, "--labels", help="patient,cancer CSV"),
    out: Path | None = typer.Option(None, "--out", help="output folder (default models/genomic)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the ALL/AML expression classifier (Golub 1999 training set); print CV metrics."""
    from batch.genomic import train as gt

    m = gt.genomic_train(
        expression or gt.DEFAULT_EXPRESSION, labels or gt.DEFAULT_LABELS, out or gt.MODEL_DIR, seed=seed
    )
    print(json.dumps({k: v for k, v in m.items() if k != "selected_probes"}, indent=2))


@app.command("ecg")
def train_ecg(
    out: Path | None = typer.Option(None, "--out", help="artifact folder (default models/ecg/artifacts)"),
    seeds: str | None = typer.Option(
        None,
        "--seeds",
        help="comma-separated seeds, one network each (several: an "
        "averaged ensemble); default the shipped recipe's "
        "(7,11,13,17,19: a five-network ensemble)",
    ),
    records: Path | None = typer.Option(
        None, "--records", help="DS1 WFDB records (default ../shared/data/mitdb-ds1)"
    ),
    folds: int = typer.Option(
        4, "--folds", help="leave-records-out folds for the held-out estimate (0: none)"
    ),
    leads: int = typer.Option(
        1, "--leads", min=1, max=2, help="1: single-lead model; 2: two-lead model (first + second lead)"
    ),
) -> None:
    """Rebuild the ECG beat CNN (DS1 only, record-wise CV) and export it to TFLite."""
    from models.ecg.train import DEFAULT_OUT, train
    from wardwatch.settings import mitdb_ds1_dir

    seed_list = [int(x) for x in seeds.split(",") if x.strip()] if seeds else None
    m = train(
        out or DEFAULT_OUT, seeds=seed_list, records_dir=records or mitdb_ds1_dir(), folds=folds, leads=leads
    )
    summary = {"model": m["model"]["version"], "beats": m["beats"]}
    if "cv" in m:
        summary["cv_pooled"] = {k: m["cv"]["pooled"][k] for k in ("veb", "sveb")}
    print(json.dumps(summary, indent=2))


@app.command("sveb")
def train_sveb(
    out: Path | None = typer.Option(None, "--out", help="artifact folder (default models/ecg/artifacts)"),
    records: Path | None = typer.Option(
        None, "--records", help="DS1 WFDB records (default ../shared/data/mitdb-ds1)"
    ),
) -> None:
    """Refit the RR model of S / N (models/ecg/sveb_rr.py) on DS1; print its nested held-out SVEB figures."""
    from models.ecg.train import DEFAULT_OUT
    from models.ecg.train import train_sveb as fit
    from wardwatch.settings import mitdb_ds1_dir

    m = fit(out or DEFAULT_OUT, records_dir=records or mitdb_ds1_dir())
    print(
        json.dumps(
            {"version": m["version"], "threshold": m["threshold"], "cv_sveb": m["cv"]["sveb"]}, indent=2
        )
    )


@app.command("deterioration")
def train_deterioration(
    data: Path | None = typer.Option(None, "--data", help="set A tarball (default: shared data)"),
    out: Path | None = typer.Option(None, "--out", help="artifact folder (default: committed)"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Logistic deterioration model on PhysioNet 2019 set A: artifacts, metrics, model card."""
    from models.deterioration.card import write_card
    from models.deterioration.model import ARTIFACT_DIR
    from models.deterioration.train import SET_A_TAR, train
    from wardwatch.settings import shared_data

    res = train(data or shared_data(SET_A_TAR), out or ARTIFACT_DIR, seed=seed)
    write_card(res)
    from models.deterioration.features import FEATURE_SETS

    for fs in FEATURE_SETS:
        t = res[fs]["test"]
        console.print(
            f"{fs}: test AUROC {t['auroc']} AUPRC {t['auprc']} utility {t['utility']} "
            f"(NEWS2 AUROC {t['news2_auroc']}, qSOFA {t['qsofa_auroc']})"
        )
