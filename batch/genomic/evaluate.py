"""``wardwatch eval genomic``: the committed classifier on Golub-format files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batch.genomic.expression import expression_evaluate
from batch.genomic.golub import golub_align, golub_parse_expression, golub_parse_labels
from batch.genomic.train import MODEL_DIR, genomic_load


def genomic_evaluate(expression: Path, labels: Path, model_dir: Path | None = None) -> dict[str, Any]:
    """Return ``{"accuracy", "n", "confusion": {"labels", "matrix"}, "model_version"}``.

    Samples are matched to labels by name; a sample without a label is an error.
    """
    model = genomic_load(model_dir or MODEL_DIR)
    x, y = golub_align(golub_parse_expression(expression), golub_parse_labels(labels))
    r = expression_evaluate(model, x, y)
    r["model_version"] = model.version
    return r
