"""The notes pipeline: de-identify, split sections and sentences, find clinical entities with
spaCy rules, attach ConText properties, extract measurements.

spaCy (Honnibal M, Montani I et al., spaCy: Industrial-strength NLP, 2020) is used as a blank
English tokenizer plus an ``EntityRuler`` over the curated lexicon of
:mod:`batch.notes.lexicon` (no statistical model is installed). Context comes from
:func:`batch.notes.context.context_of` (NegEx, Chapman 2001; ConText, Harkema 2009) and from
the section an entity sits in (``FAMILY HISTORY`` -> family, ``PAST MEDICAL HISTORY`` ->
historical). Pure: text in, dict out.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from batch.notes.context import context_of
from batch.notes.deid import deid_text
from batch.notes.lexicon import lexicon_patterns
from batch.notes.measurements import measurements_extract
from batch.notes.sections import (
    FAMILY_SECTIONS,
    HISTORICAL_SECTIONS,
    HYPOTHETICAL_SECTIONS,
    Section,
    section_at,
    sections_detect,
)

log = logging.getLogger(__name__)

PIPELINE_VERSION = "notes-rules-2"

if not Span.has_extension("context"):
    Span.set_extension("context", default=None)
if not Span.has_extension("section"):
    Span.set_extension("section", default=None)
if not Doc.has_extension("sections"):
    Doc.set_extension("sections", default=None)

_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9*\[])|\n\s*\n|\n(?=\s*[-*•]\s)")


def sentences_split(text: str, sections: list[Section] | None = None) -> list[tuple[int, int]]:
    """Sentence spans: after ``. ! ?`` followed by a capital or digit, at blank lines, before
    bullet lines, and at every section title.

    Returns
    -------
    list of (start, end)
        Character offsets, covering the text (white space trimmed).
    """
    cuts = {0, len(text)}
    for m in _SENT_END.finditer(text):
        cuts.add(m.end())
    for s in sections or sections_detect(text):
        cuts.add(s.start)
        cuts.add(s.body_start)
    out: list[tuple[int, int]] = []
    bounds = sorted(cuts)
    for a, b in itertools.pairwise(bounds):
        seg = text[a:b]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg.rstrip())
        if trail > lead:
            out.append((a + lead, a + trail))
    return out


@Language.component("ww_sentences")
def _ww_sentences(doc: Doc) -> Doc:
    sections = sections_detect(doc.text)
    doc._.sections = sections
    starts = sorted({a for a, _ in sentences_split(doc.text, sections)})
    for i, tok in enumerate(doc):
        if i == 0:
            tok.is_sent_start = True
            continue
        # A boundary falls after the previous token's first character and at/before this one.
        k = bisect.bisect_right(starts, doc[i - 1].idx)
        tok.is_sent_start = k < len(starts) and starts[k] <= tok.idx
    return doc


@Language.component("ww_context")
def _ww_context(doc: Doc) -> Doc:
    sections: list[Section] = doc._.sections or []
    for ent in doc.ents:
        sent = ent.sent
        off = sent.start_char
        ctx = context_of(sent.text, ent.start_char - off, ent.end_char - off)
        sec = section_at(sections, ent.start_char)
        name = sec.name if sec else None
        if name in FAMILY_SECTIONS:
            ctx.family = True
            ctx.triggers.setdefault("family", []).append(f"section:{name}")
        if name in HISTORICAL_SECTIONS:
            ctx.historical = True
            ctx.triggers.setdefault("historical", []).append(f"section:{name}")
        if name in HYPOTHETICAL_SECTIONS and not ctx.hypothetical:
            ctx.hypothetical = True
            ctx.triggers.setdefault("hypothetical", []).append(f"section:{name}")
        ent._.context = ctx
        ent._.section = name
    return doc


@lru_cache(maxsize=1)
def notes_nlp() -> Language:
    """The spaCy pipeline (blank English + sentence rules + EntityRuler + ConText), built once."""
    nlp = spacy.blank("en")
    nlp.add_pipe("ww_sentences")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(lexicon_patterns())  # type: ignore[attr-defined]
    nlp.add_pipe("ww_context")
    return nlp


def notes_process(text: str, *, deidentify: bool = True) -> dict[str, Any]:
    """Process one note.

    De-identification runs first, so every offset and snippet in the result refers to the
    de-identified text and no identifier reaches the result.

    Parameters
    ----------
    text : str
        Raw note text.
    deidentify : bool
        Replace identifiers first (the batch handler always does).

    Returns
    -------
    dict
        ``text`` (de-identified), ``deid`` (counts per category), ``sections``, ``entities``
        (label, text, offsets, section, negated/historical/hypothetical/family, triggers),
        ``measurements`` (kind, normalised ``values`` with units in the names), ``summary``
        and ``version``.

    Examples
    --------
    >>> r = notes_process("HPI: Mr. Jones denies chest pain. Fever of 102.4°F.")
    >>> [(e["text"], e["negated"]) for e in r["entities"]]
    [('chest pain', True), ('Fever', False)]
    >>> r["measurements"][0]["values"]
    {'temp_c': 39.1}
    """
    deid = deid_text(text) if deidentify else None
    clean = deid.text if deid else text
    doc = notes_nlp()(clean)
    entities: list[dict[str, Any]] = []
    for ent in doc.ents:
        ctx = ent._.context
        entities.append(
            {
                "label": ent.label_,
                "text": ent.text,
                "concept": ent.ent_id_ or ent.text.lower(),
                "start": ent.start_char,
                "end": ent.end_char,
                "section": ent._.section,
                "negated": ctx.negated,
                "historical": ctx.historical,
                "hypothetical": ctx.hypothetical,
                "family": ctx.family,
                "triggers": ctx.triggers,
            }
        )
    meas = [m.to_dict() for m in measurements_extract(clean)]
    for m in meas:
        sec = section_at(doc._.sections or [], m["start"])
        m["section"] = sec.name if sec else None
    sections = [s.to_dict() for s in doc._.sections or []]

    def concepts(label: str, **flags: bool) -> list[str]:
        return sorted(
            {
                e["concept"]
                for e in entities
                if e["label"] == label and all(e[k] == v for k, v in flags.items())
            }
        )

    summary = {
        "n_entities": len(entities),
        "n_sentences": sum(1 for _ in doc.sents),
        "problems_present": concepts("PROBLEM", negated=False, family=False, hypothetical=False),
        "problems_negated": concepts("PROBLEM", negated=True),
        "problems_historical": concepts("PROBLEM", historical=True, negated=False),
        "problems_family": concepts("PROBLEM", family=True),
        "medications": concepts("MEDICATION", negated=False),
        "procedures": concepts("PROCEDURE", negated=False),
        "measurements_invalid": sum(1 for m in meas if not m["valid"]),
    }
    log.debug("notes_process: %d entities, %d measurements", len(entities), len(meas))
    return {
        "text": clean,
        "deid": deid.to_dict() if deid else None,
        "sections": sections,
        "entities": entities,
        "measurements": meas,
        "summary": summary,
        "version": PIPELINE_VERSION,
    }
