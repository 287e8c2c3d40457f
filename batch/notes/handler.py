"""Batch-worker handler for ``jobs.notes``: one plain-text clinical note per job.

The note is de-identified first (:func:`batch.notes.deid.deid_text`); the result holds only
the de-identified text, sections, entities with ConText properties, and measurements. Nothing
from the note is logged. Bad input raises :class:`~batch.jobs.JobRejected`: ``corrupt_file``
(binary or not UTF-8/Latin-1 text, or empty).
"""

from __future__ import annotations

import logging
from typing import Any

import spacy

from batch.jobs import Job, JobRejected
from batch.notes.pipeline import PIPELINE_VERSION, notes_nlp, notes_process

log = logging.getLogger(__name__)

VERSIONS = {"notes_pipeline": PIPELINE_VERSION, "spacy": spacy.__version__}
MAX_NOTE_CHARS = 1_000_000


def warm_up() -> None:
    """Build the spaCy pipeline once before the first job."""
    notes_nlp()


def _text(data: bytes) -> str:
    head = data[:65536]
    if b"\x00" in head:
        raise JobRejected("corrupt_file", "binary content (NUL bytes), expected a text note")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise JobRejected("corrupt_file", f"not UTF-8 text (byte {e.start})") from None
    ctrl = sum(1 for c in text[:65536] if ord(c) < 32 and c not in "\r\n\t\f")
    if ctrl > max(8, len(text[:65536]) // 100):
        raise JobRejected("corrupt_file", f"{ctrl} control characters: not a text note")
    if not text.strip():
        raise JobRejected("corrupt_file", "empty note")
    if len(text) > MAX_NOTE_CHARS:
        raise JobRejected("corrupt_file", f"note of {len(text)} characters over {MAX_NOTE_CHARS}")
    return text.replace("\r\n", "\n")


def handle(job: Job) -> dict[str, Any]:
    """Process one note job; outputs are those of :func:`batch.notes.pipeline.notes_process`."""
    job.progress("decode", 0.05)
    text = _text(job.data)
    job.progress("process", 0.2)
    out = notes_process(text, deidentify=True)
    job.progress("done", 0.95)
    warnings = []
    if out["summary"]["measurements_invalid"]:
        warnings.append(
            f"{out['summary']['measurements_invalid']} measurement(s) outside "
            "plausible ranges (see measurements[].reason)"
        )
    return {"outputs": out, "warnings": warnings, "versions": VERSIONS}
