"""Evaluate :func:`batch.notes.context.context_of` negation on the NegEx test-set format.

File format (tab-separated, header ``Report No.	Concept	Sentence	Negation``): one row per
(report, concept, sentence) with ``Affirmed`` or ``Negated`` (Chapman et al. 2001). The concept
is the target; in the sentence it is usually written in upper case, which is how we locate it
when the concept occurs more than once.

Split used for development: reports 1-30 were used to write and adjust the trigger lists;
reports 31-60 are held out and only scored.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch.notes.context import context_of

DEV_REPORTS = range(1, 31)
HELDOUT_REPORTS = range(31, 61)


@dataclass(frozen=True)
class NegexRow:
    report: int
    concept: str
    sentence: str
    negated: bool


class NegexFormatError(ValueError):
    """The file is not in the NegEx test-set format."""


def negex_read(source: str | Path) -> list[NegexRow]:
    """Read a NegEx test-set TSV (path, or the text itself if it contains a tab)."""
    text = source if isinstance(source, str) and "\t" in source else Path(source).read_text()
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    header = next(reader, None)
    if not header or len(header) < 4:
        raise NegexFormatError("expected a header: Report No.<TAB>Concept<TAB>Sentence<TAB>Negation")
    cols = [h.strip().lower() for h in header]
    try:
        i_rep = next(i for i, c in enumerate(cols) if c.startswith("report"))
        i_con = cols.index("concept")
        i_sen = cols.index("sentence")
        i_neg = next(i for i, c in enumerate(cols) if c.startswith("negation"))
    except (StopIteration, ValueError):
        raise NegexFormatError(f"unexpected columns {header}") from None
    rows: list[NegexRow] = []
    for n, r in enumerate(reader, start=2):
        if not r or all(not x.strip() for x in r):
            continue
        label = r[i_neg].strip().lower()
        if label not in ("affirmed", "negated"):
            raise NegexFormatError(f"line {n}: label {r[i_neg]!r} is not Affirmed/Negated")
        rows.append(NegexRow(int(r[i_rep]), r[i_con].strip(), r[i_sen], label == "negated"))
    return rows


def concept_locate(sentence: str, concept: str) -> tuple[int, int] | None:
    """Offsets of ``concept`` in ``sentence``: the upper-case occurrence if there is one,
    else the first case-insensitive one (white space between words may differ)."""
    words = concept.split()
    if not words:
        return None
    rx = r"\s+".join(re.escape(w) for w in words)
    for pat, flags in ((r"\s+".join(re.escape(w.upper()) for w in words), 0), (rx, re.IGNORECASE)):
        hits = list(re.finditer(pat, sentence, flags))
        if hits:
            return hits[0].start(), hits[0].end()
    return None


def negex_predict(row: NegexRow, **kw: Any) -> bool:
    """Whether :func:`context_of` calls the row's concept negated."""
    loc = concept_locate(row.sentence, row.concept)
    if loc is None:
        return False
    return context_of(row.sentence, *loc, categories=("negated",), **kw).negated


def negex_score(rows: Iterable[NegexRow], **kw: Any) -> dict[str, Any]:
    """``{"negated": {"precision", "recall", "f1"}, "accuracy", "n", "tp", "fp", "fn", "tn"}``."""
    tp = fp = fn = tn = 0
    for r in rows:
        p = negex_predict(r, **kw)
        if p and r.negated:
            tp += 1
        elif p:
            fp += 1
        elif r.negated:
            fn += 1
        else:
            tn += 1
    n = tp + fp + fn + tn
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {
        "negated": {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4)},
        "accuracy": round((tp + tn) / n, 4) if n else 0.0,
        "n": n,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def negex_deidentified(rows: Iterable[NegexRow]) -> tuple[list[NegexRow], dict[str, Any]]:
    """The rows with each sentence passed through :func:`batch.notes.deid.deid_text` first, and
    how many target concepts survived: of the ``rows`` whose concept is found in the original
    sentence, ``concepts_kept`` are still found after de-identification. The NegEx sentences were
    de-identified by the De-ID tool (``**NAME[...]`` tags), so ``replaced_outside_tags`` counts
    words our rules remove that are (almost surely) not PHI: over-removal on real text."""
    from batch.notes.deid import deid_text

    out: list[NegexRow] = []
    kept = n = 0
    cache: dict[str, str] = {}
    words = extra = 0  # words of the distinct sentences; replacements outside De-ID tool tags
    for r in rows:
        if r.sentence not in cache:
            res = deid_text(r.sentence)
            cache[r.sentence] = res.text
            words += len(re.findall(r"[^\W_]+", r.sentence))
            extra += sum(not r.sentence.startswith("**", s) for s, _, _ in res.spans)
        sent = cache[r.sentence]
        if concept_locate(r.sentence, r.concept) is not None:
            n += 1
            kept += concept_locate(sent, r.concept) is not None
        out.append(NegexRow(r.report, r.concept, sent, r.negated))
    return out, {
        "rows": n,
        "concepts_kept": kept,
        "share_kept": round(kept / n, 4) if n else None,
        "sentences": len(cache),
        "words": words,
        "replaced_outside_tags": extra,
    }


def negex_evaluate(path: str | Path, reports: str = "all", *, deidentify: bool = False) -> dict[str, Any]:
    """Score a file; ``reports`` is ``"all"``, ``"dev"`` (1-30) or ``"heldout"`` (31-60).

    ``deidentify``: run :func:`batch.notes.deid.deid_text` on each sentence first (the batch
    worker's order), and report how many target concepts survived it under ``deid``."""
    rows = negex_read(path)
    if reports == "dev":
        rows = [r for r in rows if r.report in DEV_REPORTS]
    elif reports == "heldout":
        rows = [r for r in rows if r.report in HELDOUT_REPORTS]
    elif reports != "all":
        raise ValueError(f"unknown reports {reports!r}; valid: 'all', 'dev', 'heldout'")
    deid = None
    if deidentify:
        rows, deid = negex_deidentified(rows)
    out = negex_score(rows)
    out["reports"] = reports
    if deid is not None:
        out["deid"] = deid
    return out
