"""Batch-worker handler for ``jobs.genomic`` (see :mod:`batch.worker` for the loop).

A job is one file:

* FASTA (``.fa .fasta .fna .faa .ffn .fas .seq`` or text starting with ``>``): per-record
  statistics. Params: ``k`` (k-mer length, 1-8, default 3), ``top`` (default 10),
  ``alphabet`` (``auto``/``nucleotide``/``protein``).
* Golub-format expression CSV (``.csv``/``.tsv`` or text starting with ``Gene Description``):
  ALL/AML predictions from the committed model, plus PCA + k-means clustering of the submitted
  samples and the ``clusters.png`` plot (stored by the worker under
  ``settings.artifacts_path/genomic/<job_id>/``). Params: ``k`` (clusters, default 2).

Bad input raises :class:`~batch.jobs.JobRejected`: ``corrupt_file`` (not text / not FASTA /
not the Golub format), ``invalid_alphabet`` (names the characters and position),
``unsupported_format``, ``bad_params``.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import Bio

from batch.genomic.expression import (
    MODEL_VERSION,
    ExpressionModel,
    expression_cluster,
    expression_predict,
)
from batch.genomic.fasta import FastaFormatError, InvalidAlphabetError, fasta_stats, fasta_summary
from batch.genomic.golub import ExpressionFormatError, golub_parse_expression
from batch.jobs import Job, JobRejected

log = logging.getLogger(__name__)

VERSIONS = {"genomic_model": MODEL_VERSION, "biopython": Bio.__version__}
FASTA_SUFFIXES = {".fa", ".fasta", ".fna", ".faa", ".ffn", ".fas", ".seq", ".frn", ".mpfa"}
TABLE_SUFFIXES = {".csv", ".tsv"}
MAX_RECORDS_IN_RESULT = 2000


@lru_cache(maxsize=1)
def _model() -> ExpressionModel:
    from batch.genomic.train import genomic_load

    return genomic_load()


def warm_up() -> None:
    """Load the classifier once before the first job."""
    _model()


def _int_param(params: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name, default)
    try:
        v = int(raw)
    except (TypeError, ValueError):
        raise JobRejected("bad_params", f"param {name}={raw!r} is not an integer") from None
    if not lo <= v <= hi:
        raise JobRejected("bad_params", f"param {name}={v} outside [{lo}, {hi}]")
    return v


def _text(job: Job) -> str:
    if b"\x00" in job.data[:65536]:
        raise JobRejected("corrupt_file", "binary content (NUL bytes), expected text")
    try:
        return job.data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise JobRejected("corrupt_file", f"not UTF-8 text (byte {e.start})") from None


def _kind_of(job: Job, text: str) -> str:
    suffix = Path(job.filename).suffix.lower()
    head = text.lstrip()[:200]
    if head.startswith(">") or (suffix in FASTA_SUFFIXES and not head.startswith("Gene ")):
        return "fasta"
    if suffix in TABLE_SUFFIXES or head.startswith(("Gene Description", '"Gene Description')):
        return "expression"
    raise JobRejected(
        "unsupported_format",
        f"expected FASTA ({', '.join(sorted(FASTA_SUFFIXES))}) or a Golub-format "
        f"expression CSV, got {suffix or 'no suffix'!r}",
    )


def handle(job: Job) -> dict[str, Any]:
    """Process one genomic job (see module docstring)."""
    job.progress("decode", 0.05)
    text = _text(job)
    if not text.strip():
        raise JobRejected("corrupt_file", "empty file")
    kind = _kind_of(job, text)
    return _fasta(job, text) if kind == "fasta" else _expression(job, text)


def _fasta(job: Job, text: str) -> dict[str, Any]:
    k = _int_param(job.params, "k", 3, 1, 8)
    top = _int_param(job.params, "top", 10, 0, 100)
    alphabet = str(job.params.get("alphabet", "auto"))
    if alphabet not in ("auto", "nucleotide", "protein"):
        raise JobRejected("bad_params", f"alphabet {alphabet!r}; valid: auto, nucleotide, protein")
    job.progress("parse", 0.2)
    try:
        stats = fasta_stats(text, k=k, top=top, alphabet=alphabet)  # type: ignore[arg-type]
    except InvalidAlphabetError as e:
        raise JobRejected(
            "invalid_alphabet",
            str(e),
            {
                "record_id": e.record_id,
                "bad_chars": e.bad_chars,
                "position": e.position,
                "alphabet": e.alphabet,
            },
        ) from None
    except FastaFormatError as e:
        raise JobRejected("corrupt_file", str(e)) from None
    job.progress("stats", 0.9)
    warnings = []
    records = [s.to_dict() for s in stats[:MAX_RECORDS_IN_RESULT]]
    if len(stats) > MAX_RECORDS_IN_RESULT:
        warnings.append(f"{len(stats)} records; only the first {MAX_RECORDS_IN_RESULT} listed")
    summary = fasta_summary(stats)
    if summary["duplicate_ids"]:
        warnings.append(f"duplicate record ids: {summary['duplicate_ids'][:10]}")
    return {
        "outputs": {"type": "fasta", "k": k, "summary": summary, "records": records},
        "warnings": warnings,
    }


def _expression(job: Job, text: str) -> dict[str, Any]:
    k = _int_param(job.params, "k", 2, 1, 10)
    job.progress("parse", 0.1)
    sep = "\t" if Path(job.filename).suffix.lower() == ".tsv" else ","
    try:
        x = golub_parse_expression(io.StringIO(text), sep=sep)
    except ExpressionFormatError as e:
        raise JobRejected("corrupt_file", str(e)) from None
    job.progress("predict", 0.3)
    model = _model()
    try:
        preds = expression_predict(model, x)
    except ValueError as e:
        raise JobRejected("unsupported_format", str(e)) from None
    warnings: list[str] = []
    artifacts: dict[str, bytes] = {}
    clustering: dict[str, Any] | None = None
    job.progress("cluster", 0.6)
    if len(x) >= 2:
        c = expression_cluster(
            x,
            k=k,
            labels=[p["label"] for p in preds],
            title=f"{job.filename}: PCA + k-means (k={min(k, len(x))})",
            label_prefix="predicted ",
        )
        clustering = c.to_dict()
        clustering["plot"] = "clusters.png"
        artifacts["clusters.png"] = c.png
    else:
        warnings.append("one sample: no clustering")
    job.progress("done", 0.95)
    counts = {lab: sum(1 for p in preds if p["label"] == lab) for lab in ("ALL", "AML")}
    return {
        "outputs": {
            "type": "expression",
            "n_samples": len(x),
            "n_probes": int(x.shape[1]),
            "model_version": model.version,
            "predictions": preds,
            "predicted_counts": counts,
            "clustering": clustering,
        },
        "artifacts": artifacts,
        "warnings": warnings,
        "versions": VERSIONS,
    }
