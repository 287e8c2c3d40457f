"""Readers for the Golub et al. (1999) leukaemia expression format.

Golub TR, Slonim DK, Tamayo P, et al. Molecular classification of cancer: class discovery and
class prediction by gene expression monitoring. Science 286:531-537 (1999).

Expression CSV: columns ``Gene Description``, ``Gene Accession Number`` then, per sample, a
column named by the sample number followed by its ``call`` column (Affymetrix P/A/M detection
call). The sample columns are *not* in numeric order (the training file runs 1..27, 34..38,
28..33), so samples are matched to labels by column name, never by position.
Labels CSV: ``patient,cancer`` with ``ALL``/``AML``.

These helpers read files (they are the only I/O in :mod:`batch.genomic`).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

PROBE_COLUMN = "Gene Accession Number"
DESCRIPTION_COLUMN = "Gene Description"
CLASSES = ("ALL", "AML")


class ExpressionFormatError(ValueError):
    """The expression or label file is not in the Golub format."""


def golub_parse_expression(source: str | Path | io.StringIO, sep: str = ",") -> pd.DataFrame:
    """Read a Golub-format expression CSV into a samples x probes frame.

    Parameters
    ----------
    source : str, Path or file-like
        Path of the CSV, or a file-like object with its text.
    sep : str
        Field separator (``","``; ``"\\t"`` for a TSV export).

    Returns
    -------
    pandas.DataFrame
        Index: sample names (strings, e.g. ``"1"``), sorted numerically when numeric; columns:
        probe accession numbers; values: float expression (average difference units). The
        ``call`` columns are dropped.

    Raises
    ------
    ExpressionFormatError
        If the probe column is missing, a sample column is not followed by a ``call`` column, or
        values are not numeric.
    """
    try:
        raw = pd.read_csv(source, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ExpressionFormatError(f"not a Golub expression CSV: {e}") from None
    cols = [str(c).strip() for c in raw.columns]
    raw.columns = cols
    if PROBE_COLUMN not in cols:
        raise ExpressionFormatError(f"not a Golub expression CSV: no {PROBE_COLUMN!r} column")
    # Drop fully empty trailing columns some exports carry ("Unnamed: n").
    data_cols = [
        c
        for c in cols
        if c not in (PROBE_COLUMN, DESCRIPTION_COLUMN)
        and not (c.startswith("Unnamed") and (raw[c].str.strip() == "").all())
    ]
    samples: list[str] = []
    i = 0
    while i < len(data_cols):
        c = data_cols[i]
        if c.lower().startswith("call"):
            raise ExpressionFormatError(f"column {c!r} has no sample column before it")
        nxt = data_cols[i + 1] if i + 1 < len(data_cols) else ""
        if not nxt.lower().startswith("call"):
            raise ExpressionFormatError(
                f"sample column {c!r} is not followed by its 'call' column (got {nxt!r})"
            )
        samples.append(c)
        i += 2
    if not samples:
        raise ExpressionFormatError("no sample columns")
    try:
        values = raw[samples].apply(lambda s: pd.to_numeric(s.str.strip(), errors="raise"))
    except (ValueError, TypeError) as e:
        raise ExpressionFormatError(f"non-numeric expression value: {e}") from None
    values.index = raw[PROBE_COLUMN].str.strip()
    if values.index.duplicated().any():
        dup = values.index[values.index.duplicated()][0]
        raise ExpressionFormatError(f"duplicate probe {dup!r}")
    frame: pd.DataFrame = values.T.astype(float)
    frame.index = [str(s) for s in frame.index]
    frame = frame.loc[sorted(frame.index, key=_sample_key)]
    frame.index.name = "sample"
    frame.columns.name = "probe"
    log.debug("golub expression: %d samples x %d probes", *frame.shape)
    return frame


def golub_parse_labels(source: str | Path | io.StringIO) -> pd.Series:
    """Read ``patient,cancer`` labels; return a Series indexed by sample name (string).

    Raises
    ------
    ExpressionFormatError
        If the columns are missing or a label is not ``ALL``/``AML``.
    """
    try:
        raw = pd.read_csv(source, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ExpressionFormatError(f"not a label CSV: {e}") from None
    raw.columns = [c.strip().lower() for c in raw.columns]
    if not {"patient", "cancer"} <= set(raw.columns):
        raise ExpressionFormatError("label CSV needs columns 'patient' and 'cancer'")
    labels = pd.Series(
        raw["cancer"].str.strip().str.upper().values, index=raw["patient"].str.strip(), name="cancer"
    )
    bad = sorted(set(labels) - set(CLASSES))
    if bad:
        raise ExpressionFormatError(f"unknown labels {bad}; valid: {list(CLASSES)}")
    return labels


def golub_align(expression: pd.DataFrame, labels: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Keep the samples present in both, in the expression order; error if any is unlabelled."""
    missing = [s for s in expression.index if s not in labels.index]
    if missing:
        raise ExpressionFormatError(f"samples without a label: {missing[:10]}")
    return expression, labels.loc[expression.index]


def _sample_key(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, name)
