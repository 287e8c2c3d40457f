"""Train, evaluate and persist the ALL/AML expression classifier (``wardwatch train genomic``).

Writes ``model.joblib`` (the fitted pipeline, probe order, version, CV metrics),
``metrics.json`` and ``MODEL_CARD.md`` into the output folder (default ``models/genomic/``).
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
    CLASSES,
    MODEL_VERSION,
    ExpressionModel,
    expression_cluster,
    expression_cv,
    expression_fit,
)
from batch.genomic.golub import golub_align, golub_parse_expression, golub_parse_labels
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


def genomic_train(expression: Path = DEFAULT_EXPRESSION, labels: Path = DEFAULT_LABELS,
                  out_dir: Path = MODEL_DIR, *, seed: int = 0, n_genes: int = 50,
                  n_trees: int = 300, folds: int = 5, repeats: int = 10) -> dict[str, Any]:
    """Cross-validate, fit on all training samples, write model, metrics and model card.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    x, y = golub_align(golub_parse_expression(expression), golub_parse_labels(labels))
    log.info("golub training set: %d samples x %d probes", *x.shape)
    metrics = expression_cv(x, y, n_genes=n_genes, n_trees=n_trees, seed=seed, folds=folds,
                            repeats=repeats)
    model = expression_fit(x, y, n_genes=n_genes, n_trees=n_trees, seed=seed)
    train_acc = float((model.pipeline.predict(x.to_numpy(dtype=float)) == y.to_numpy()).mean())
    clus = expression_cluster(x, labels=list(y), plot=False, seed=seed)
    metrics.update({
        "model_version": MODEL_VERSION,
        "seed": seed, "n_genes": n_genes, "n_trees": n_trees,
        "resubstitution_accuracy": train_acc,
        "cluster_ari_training": clus.adjusted_rand_vs_labels,
        "selected_probes": model.selected_probes,
        "sklearn": sklearn.__version__,
        "trained_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    })
    model.metrics = {k: v for k, v in metrics.items() if k != "selected_probes"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.to_state(), out / MODEL_FILE, compress=3)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(metrics, (out / MODEL_FILE).stat().st_size))
    return metrics


def model_card(m: dict[str, Any], size_bytes: int) -> str:
    """The model card text, with the numbers of this build."""
    cm = m["loo_confusion"]
    rskf = (f"{m['rskf_accuracy_mean']:.3f} ± {m['rskf_accuracy_sd']:.3f} "
            f"(sd over {m['rskf_folds']} folds)")
    resub = f"{m['resubstitution_accuracy']:.3f}"
    return f"""# Model card: genomic ALL/AML classifier (`{m['model_version']}`)

## What it does
Predicts acute lymphoblastic (ALL) vs acute myeloid (AML) leukaemia from one Affymetrix Hu6800
bone-marrow/blood expression profile (7,129 probes, "average difference" units), for
`jobs.genomic` expression jobs. Research use only; not a diagnostic device.

## Data
Golub TR et al., Molecular classification of cancer, Science 286:531-537 (1999): the 38-sample
**training** set only (`../shared/data/golub/data_set_ALL_AML_train.csv`, `labels_train.csv`;
{m['class_counts']['ALL']} ALL, {m['class_counts']['AML']} AML). The 34-sample independent set is
not in this repository and was never used: it is the data the model is judged on.

## Model
log10 of values clipped to [100, 16000] (Dudoit, Fridlyand & Speed, JASA 2002) -> the
{m['n_genes']} probes with the largest ANOVA F (selected inside every CV fold; Ambroise &
McLachlan, PNAS 2002) -> random forest, {m['n_trees']} trees, `random_state={m['seed']}`
(scikit-learn {m['sklearn']}). Artifact `model.joblib`, {size_bytes / 1024:.0f} KiB.

## Split and metrics (training set only, so cross-validated)
| estimate | value |
|---|---|
| {m['rskf_scheme']} accuracy | {rskf} |
| leave-one-out accuracy | {m['loo_accuracy']:.3f} (n = {m['n']}) |
| resubstitution accuracy (optimistic, not a performance estimate) | {resub} |

Leave-one-out confusion (rows true, columns predicted; {', '.join(CLASSES)}): `{cm}`.

### Subgroup metrics
Per-class leave-one-out recall: ALL {m['loo_recall']['ALL']:.3f}, AML {m['loo_recall']['AML']:.3f}.
The ALL B-/T-cell subtypes, sex and sample source (BM/PB) are not in the label file, so no
further subgroup can be reported.

### Clustering
PCA (centred log expression, 1,000 most variable probes) + k-means (k = 2): adjusted Rand index
with ALL/AML on the training set {m['cluster_ari_training']:.3f} (settings chosen while looking at
this number, so it is descriptive, not an independent estimate).

## Limits
- 38 samples, 11 AML: the CV estimate has a wide interval (one sample = 2.6 points).
- One array platform (Hu6800) and one lab's protocol; other platforms need remapping and
  renormalisation. Submitted files missing more than 1 % of the probes are rejected.
- Two classes only; any other leukaemia (or a normal sample) is still forced into ALL or AML.
- Random forest probabilities (`p_aml`) are not calibrated.

## Rebuild
```
.venv/bin/wardwatch train genomic          # deterministic: seed {m['seed']}
.venv/bin/wardwatch eval genomic --expression EXPR.csv --labels LABELS.csv --json
```
Built {m['trained_at']}.
"""
