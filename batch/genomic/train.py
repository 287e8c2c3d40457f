"""Train, evaluate and persist the ALL/AML expression classifier (``wardwatch train genomic``).

Writes ``model.joblib`` (the fitted pipeline, probe order, version, CV metrics),
``metrics.json`` and ``MODEL_CARD.md`` (rendered by :mod:`models.cards` from
``models/genomic/MODEL_CARD.md.tmpl``) into the output folder (default ``models/genomic/``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn

from batch.genomic.expression import (
    LOGISTIC_C,
    MODEL_VERSION,
    SCALE_TARGET,
    ExpressionModel,
    expression_cluster,
    expression_cv,
    expression_fit,
)
from batch.genomic.golub import golub_align, golub_parse_expression, golub_parse_labels
from models.cards import CARDS, card_write
from wardwatch.settings import shared_data

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "models" / "genomic"
MODEL_FILE = "model.joblib"
DEFAULT_DATA = shared_data("golub")
DEFAULT_EXPRESSION = DEFAULT_DATA / "data_set_ALL_AML_train.csv"
DEFAULT_LABELS = DEFAULT_DATA / "labels_train.csv"


def genomic_load(model_dir: Path = MODEL_DIR) -> ExpressionModel:
    """Load the committed model (raises ``FileNotFoundError`` with the rebuild command)."""
    path = Path(model_dir) / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} missing; rebuild with `wardwatch train genomic`")
    return ExpressionModel.from_state(joblib.load(path))


def genomic_train(
    expression: Path = DEFAULT_EXPRESSION,
    labels: Path = DEFAULT_LABELS,
    out_dir: Path = MODEL_DIR,
    *,
    seed: int = 0,
    n_genes: int = 50,
    folds: int = 5,
    repeats: int = 10,
) -> dict[str, Any]:
    """Cross-validate, fit on all training samples, write model, metrics and model card.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    x, y = golub_align(golub_parse_expression(expression), golub_parse_labels(labels))
    log.info("golub training set: %d samples x %d probes", *x.shape)
    metrics = expression_cv(x, y, n_genes=n_genes, seed=seed, folds=folds, repeats=repeats)
    model = expression_fit(x, y, n_genes=n_genes, seed=seed)
    train_acc = float((model.pipeline.predict(x.to_numpy(dtype=float)) == y.to_numpy()).mean())
    clus = expression_cluster(x, labels=list(y), plot=False, seed=seed)
    metrics.update(
        {
            "model_version": MODEL_VERSION,
            "seed": seed,
            "n_genes": n_genes,
            "logistic_c": LOGISTIC_C,
            "scale_target": SCALE_TARGET,
            "resubstitution_accuracy": train_acc,
            "cluster_ari_training": clus.adjusted_rand_vs_labels,
            "selected_probes": model.selected_probes,
            "sklearn": sklearn.__version__,
            "trained_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        }
    )
    model.metrics = {k: v for k, v in metrics.items() if k != "selected_probes"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.to_state(), out / MODEL_FILE, compress=3)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    card_write(CARDS["genomic"], out=out / "MODEL_CARD.md", data={"m": metrics})
    return metrics
