"""Score :func:`batch.notes.deid.deid_text` on an annotated corpus (:mod:`batch.notes.deid_corpus`).

Recall counts what a privacy officer reads: whether the PHI is gone, whatever label the
de-identifier gave it.

- **span level**: a gold span is removed when every one of its tokens lies inside predicted
  spans; a predicted span is correct when it overlaps a gold span.
- **token level**: tokens are runs of letters/digits; a gold token is removed when it lies inside
  a predicted span; a predicted token is correct when it lies inside a gold span.

Per category: recall by the gold category, precision by the predicted category (an
``INSTITUTION`` gold span removed as ``NAME`` still counts for recall and for precision).
Medical terms kept: lexicon terms (:mod:`batch.notes.lexicon`) present in the notes outside
gold PHI that are still present, unchanged, after de-identification.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from batch.notes.deid import deid_text
from batch.notes.deid_corpus import corpus_read
from batch.notes.lexicon import MEDICATIONS, PROBLEMS, PROCEDURES

_TOKEN = re.compile(r"[^\W_]+")


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text, start, end)] or [(start, end)]


def _inside(tok: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s <= tok[0] and tok[1] <= e for s, e in spans)


def _medical_terms() -> re.Pattern[str]:
    terms = sorted({t for t in MEDICATIONS + PROBLEMS + PROCEDURES if len(t) > 3}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE)


def deid_score(notes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Span- and token-level recall/precision, overall and per category, and medical terms kept."""
    med = _medical_terms()
    g_sp: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category -> [removed, total]
    g_tok: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    p_sp: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category -> [correct, total]
    p_tok: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: list[dict[str, Any]] = []
    med_kept = med_total = 0
    n_notes = 0
    for note in notes:
        n_notes += 1
        text = note["text"]
        gold = [(s["start"], s["end"], s["category"]) for s in note["spans"]]
        res = deid_text(text)
        pred = [(s, e) for s, e, _ in res.spans]
        gold_se = [(s, e) for s, e, _ in gold]
        for s, e, cat in gold:
            toks = _tokens(text, s, e)
            hit = [_inside(t, pred) for t in toks]
            for key in (cat, "ALL"):
                g_sp[key][1] += 1
                g_sp[key][0] += all(hit)
                g_tok[key][1] += len(toks)
                g_tok[key][0] += sum(hit)
            if not all(hit):
                missed.append(
                    {
                        "note": note["id"],
                        "category": cat,
                        "text": text[s:e],
                        "context": text[max(0, s - 30) : e + 30],
                    }
                )
        for s, e, cat in res.spans:
            ok = any(s < ge and gs < e for gs, ge in gold_se)
            toks = _tokens(text, s, e)
            good = sum(_inside(t, gold_se) for t in toks)
            for key in (cat, "ALL"):
                p_sp[key][1] += 1
                p_sp[key][0] += ok
                p_tok[key][1] += len(toks)
                p_tok[key][0] += good
        for m in med.finditer(text):
            if _inside((m.start(), m.end()), gold_se):
                continue
            med_total += 1
            med_kept += not any(s < m.end() and m.start() < e for s, e in pred)
    cats = sorted((set(g_sp) | set(p_sp)) - {"ALL"})

    def block(key: str) -> dict[str, Any]:
        return {
            "span": {
                "recall": _ratio(*g_sp[key]),
                "precision": _ratio(*p_sp[key]),
                "gold": g_sp[key][1],
                "removed": g_sp[key][0],
                "predicted": p_sp[key][1],
            },
            "token": {
                "recall": _ratio(*g_tok[key]),
                "precision": _ratio(*p_tok[key]),
                "gold": g_tok[key][1],
                "removed": g_tok[key][0],
                "predicted": p_tok[key][1],
            },
        }

    return {
        "notes": n_notes,
        "overall": block("ALL"),
        "by_category": {c: block(c) for c in cats},
        "medical_terms": {"present": med_total, "kept": med_kept, "share_kept": _ratio(med_kept, med_total)},
        "missed": missed,
    }


def deid_leave_style_out(corpus: str | Path, negex: str | Path | None) -> dict[str, Any]:
    """Validation for unseen note styles, on train and dev only (the test split is not read).

    For each style of the train split, the safe vocabulary is rebuilt from the OTHER styles' train
    notes (plus NegEx, lexicon, stop words) and the de-identifier is scored on that style's dev
    notes: how recall and precision hold when the note frames are new, as they are in test."""
    from batch.notes.deid import vocab_override
    from batch.notes.deid_vocab import vocab_build, vocab_from_notes

    train = corpus_read(corpus, "train")
    dev = corpus_read(corpus, "dev")
    base = vocab_build(Path(negex) if negex else None, None)
    out: dict[str, Any] = {}
    for style in sorted({n["style"] for n in train}):
        words = frozenset(base | vocab_from_notes(n for n in train if n["style"] != style))
        with vocab_override(words):
            r = deid_score(n for n in dev if n["style"] == style)
        o = r["overall"]
        out[style] = {
            "notes": r["notes"],
            "span_recall": o["span"]["recall"],
            "span_precision": o["span"]["precision"],
            "token_recall": o["token"]["recall"],
            "token_precision": o["token"]["precision"],
        }
    return out


def deid_evaluate(corpus: str | Path, split: str = "test", *, show_missed: int = 0) -> dict[str, Any]:
    """Score one split of a corpus folder; ``missed`` keeps the first ``show_missed`` misses
    (they are synthetic surrogates, never real PHI)."""
    out = deid_score(corpus_read(corpus, split))
    out["missed"] = out["missed"][:show_missed]
    out["split"] = split
    return out
