"""Synthetic clinical notes with annotated surrogate PHI, for evaluating de-identification.

One command rebuilds the committed corpus byte for byte::

    python -m batch.notes.deid_corpus --out batch/notes/deid_corpus

Notes come from the templates of :mod:`batch.notes.deid_templates` (nursing, discharge
summary, radiology, telemetry/cardiology, ED triage), with variants chosen per sentence, and
surrogate PHI from :mod:`batch.notes.deid_surrogates`. Every PHI value is written with its
span ``{"start", "end", "category", "kind"}``; categories follow the HIPAA Safe Harbor list
(45 CFR 164.514(b)(2)) as it appears in notes: NAME, ADDRESS (street, apartment), LOCATION
(town/city), ZIP, INSTITUTION (hospital, nursing home), DATE, AGE (over 89), PHONE (phone,
fax, pager, extension), ID (MRN, account, SSN, insurance, device serial), EMAIL, URL, IP.

Split: ``train`` and ``dev`` use the non-held-out templates and Faker's ``en_US``/``en_GB``
sources; ``test`` uses ONLY held-out templates (:data:`TEST_ONLY`, the whole ``ed_triage``
style) and held-out Faker sources (names from other locales minus every train name, towns and
streets in ``en_AU``/``en_NZ`` forms, ``en_CA`` phone layouts: see
:mod:`batch.notes.deid_surrogates`), never seen in train and never in the detector's gazetteers.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from batch.notes.deid_surrogates import Surrogates
from batch.notes.deid_templates import RELATIONS, TEMPLATES, TEST_ONLY
from batch.notes.lexicon import MEDICATIONS, PROBLEMS

CORPUS_VERSION = "deid-corpus-2"
SEED = 20261205
SPLIT_SIZES = {"train": 240, "dev": 60, "test": 150, "fresh": 150}
#: Splits on the held-out templates and held-out surrogate sources. ``fresh`` was added once
#: the rules were frozen and scored once: names from yet other Faker locales, new draws.
HELDOUT_SPLITS = ("test", "fresh")
CORPUS_DIR = Path(__file__).parent / "deid_corpus"
CATEGORIES = (
    "NAME",
    "ADDRESS",
    "LOCATION",
    "ZIP",
    "INSTITUTION",
    "DATE",
    "AGE",
    "PHONE",
    "ID",
    "EMAIL",
    "URL",
    "IP",
)

_ALT = re.compile(r"<<([^<>]*)>>")
_SLOT = re.compile(r"\{([A-Z0-9]+)\}")


def _note_values(s: Surrogates, r: random.Random) -> dict[str, tuple[str, str, str] | str]:
    """Per-note entities: slot -> (text, category, kind) for PHI, or plain text."""
    sex = r.choice(["male", "female"])
    ptf, ptl = s.first_name(), s.last_name()
    mid = f" {s.initial()}." if r.random() < 0.3 else ""
    ptlf = r.choice([f"{ptl.upper()}, {ptf.upper()}", f"{ptl}, {ptf}{mid}", f"{ptl}, {ptf}"])
    rel, rel2 = s.first_name(), s.first_name()
    rel_last = ptl if r.random() < 0.5 else s.last_name()

    def clin() -> tuple[str, str, str]:
        f, la = s.first_name(), s.last_name()
        full = r.choice([f"{f} {la}", f"{f} {s.initial()}. {la}", f"{f[0]}. {la}", f"{f} {la}"])
        return f, la, full

    d1, d2, d3 = clin(), clin(), clin()
    rnf, rnl = s.first_name(), s.last_name()
    name = "NAME"
    v: dict[str, tuple[str, str, str] | str] = {
        "PT": (f"{ptf} {ptl}", name, "patient"),
        "PTF": (ptf, name, "patient"),
        "PTL": (ptl, name, "patient"),
        "PTLF": (ptlf, name, "patient"),
        "TTL": ("Mr." if sex == "male" else r.choice(["Mrs.", "Ms."])),
        "SEX": sex,
        "REL": (rel, name, "relative"),
        "REL2": (rel2, name, "relative"),
        "RELFULL": (f"{rel} {rel_last}", name, "relative"),
        "REL2FULL": (f"{rel2} {s.last_name()}", name, "relative"),
        "RELW": r.choice(RELATIONS),
        "DR": (d1[2], name, "clinician"),
        "DRL": (d1[1], name, "clinician"),
        "DR2": (d2[2], name, "clinician"),
        "DR2L": (d2[1], name, "clinician"),
        "DR3": (d3[2], name, "clinician"),
        "DR3L": (d3[1], name, "clinician"),
        "RNF": (rnf, name, "clinician"),
        "RNL": (rnl, name, "clinician"),
        "RNFULL": (f"{rnf} {rnl}", name, "clinician"),
        "HOSP": (s.hospital(), "INSTITUTION", "hospital"),
        "HOSP2": (s.hospital(), "INSTITUTION", "hospital"),
        "NH": (s.nursing_home(), "INSTITUTION", "nursing_home"),
        "TOWN": (s.town(), "LOCATION", "town"),
        "MRN": (s.mrn(), "ID", "mrn"),
        "STATE": s.state(),
    }
    email_of = r.choice([(ptf, ptl), (rel, rel_last)])
    v["EMAIL"] = (s.email(*email_of), "EMAIL", "email")
    v["URL"] = (s.url(ptl), "URL", "url")
    return v


#: Slots drawn anew at each occurrence: slot -> (surrogate method, category, kind).
_FRESH: dict[str, tuple[str, str, str]] = {
    "DATE": ("date", "DATE", "date"),
    "PHONE": ("phone", "PHONE", "phone"),
    "FAX": ("phone", "PHONE", "fax"),
    "PAGER": ("pager", "PHONE", "pager"),
    "EXT": ("extension_digits", "PHONE", "extension"),
    "ACCT": ("account", "ID", "account"),
    "SSN": ("ssn", "ID", "ssn"),
    "OID": ("other_id", "ID", "other_id"),
    "SERIAL": ("serial", "ID", "device_serial"),
    "IP": ("ip", "IP", "ip"),
    "STREET": ("street", "ADDRESS", "street"),
    "APT": ("apt", "ADDRESS", "apartment"),
    "ZIP": ("zip", "ZIP", "zip"),
    "AGE90": ("age90", "AGE", "age_over_89"),
}


def _fresh(slot: str, s: Surrogates, r: random.Random) -> tuple[str, str, str] | str:
    """Slots drawn anew at each occurrence (PHI as ``(text, category, kind)``)."""
    if slot in _FRESH:
        method, cat, kind = _FRESH[slot]
        return (getattr(s, method)(), cat, kind)
    if slot == "AGE":
        return str(r.randint(19, 88))
    if slot.startswith("MED"):
        m = r.choice(MEDICATIONS)
        return m.capitalize() if r.random() < 0.3 else m
    if slot.startswith("PROB"):
        return r.choice(PROBLEMS)
    raise KeyError(f"unknown template slot {{{slot}}}")


def note_render(template: str, s: Surrogates, r: random.Random) -> tuple[str, list[dict[str, Any]]]:
    """Fill one template: the text and its PHI spans."""
    text = _ALT.sub(lambda m: r.choice(m.group(1).split("|")), template)
    values = _note_values(s, r)
    out = io.StringIO()
    spans: list[dict[str, Any]] = []
    pos = 0
    for m in _SLOT.finditer(text):
        out.write(text[pos : m.start()])
        slot = m.group(1)
        val = values[slot] if slot in values else _fresh(slot, s, r)
        if isinstance(val, tuple):
            start = out.tell()
            out.write(val[0])
            spans.append({"start": start, "end": out.tell(), "category": val[1], "kind": val[2]})
        else:
            out.write(val)
        pos = m.end()
    out.write(text[pos:])
    return out.getvalue(), spans


def corpus_notes(split: str, n: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """``n`` notes of one split, deterministic for a given seed."""
    r = random.Random(f"{seed}:{split}")
    heldout = split in HELDOUT_SPLITS
    s = Surrogates(r, names=split if heldout else "train", seed=f"{seed}:{split}")
    pool = [
        (style, i)
        for style, temps in TEMPLATES.items()
        for i in range(len(temps))
        if (i in TEST_ONLY.get(style, set())) == heldout
    ]
    for k in range(n):
        style, i = pool[k % len(pool)]
        text, spans = note_render(TEMPLATES[style][i], s, r)
        yield {
            "id": f"{split}-{k:04d}",
            "split": split,
            "style": style,
            "template": i,
            "text": text,
            "spans": spans,
        }


def corpus_write(out: Path, seed: int = SEED) -> dict[str, Any]:
    """Write ``<split>.jsonl.gz`` (gzip with mtime 0: byte-reproducible) and ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"version": CORPUS_VERSION, "seed": seed, "splits": {}}
    for split, n in SPLIT_SIZES.items():
        notes = list(corpus_notes(split, n, seed))
        raw = "".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in notes)
        with (
            (out / f"{split}.jsonl.gz").open("wb") as fh,
            gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz,
        ):
            gz.write(raw.encode())
        manifest["splits"][split] = {
            "notes": len(notes),
            "spans": sum(len(x["spans"]) for x in notes),
            "by_category": dict(sorted(Counter(sp["category"] for x in notes for sp in x["spans"]).items())),
            "styles": dict(sorted(Counter(x["style"] for x in notes).items())),
            "templates": sorted({f"{x['style']}/{x['template']}" for x in notes}),
        }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def corpus_read(path: str | Path, split: str = "test") -> list[dict[str, Any]]:
    """Notes of one split from a corpus folder (``<split>.jsonl.gz`` or ``<split>.jsonl``)."""
    p = Path(path)
    for name, opener in ((f"{split}.jsonl.gz", gzip.open), (f"{split}.jsonl", open)):
        f = p / name
        if f.exists():
            with opener(f, "rt", encoding="utf-8") as fh:
                return [_note_check(line, f, n) for n, line in enumerate(fh, 1) if line.strip()]
    raise FileNotFoundError(f"no {split}.jsonl.gz or {split}.jsonl in {p}")


def _note_check(line: str, f: Path, n: int) -> dict[str, Any]:
    """One corpus line, or :class:`CorpusFormatError` saying what is wrong where."""
    try:
        note = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusFormatError(f"{f.name} line {n}: not JSON ({e.msg})") from None
    if (
        not isinstance(note, dict)
        or not isinstance(note.get("text"), str)
        or not isinstance(note.get("spans"), list)
    ):
        raise CorpusFormatError(f"{f.name} line {n}: expected an object with 'text' and 'spans'")
    note.setdefault("id", f"{f.stem}-{n}")
    for sp in note["spans"]:
        ok = isinstance(sp, dict) and all(isinstance(sp.get(k), int) for k in ("start", "end"))
        if not ok or not 0 <= sp["start"] < sp["end"] <= len(note["text"]) or "category" not in sp:
            raise CorpusFormatError(
                f"{f.name} line {n}: bad span {sp!r} (start < end within the text, category)"
            )
    return note


class CorpusFormatError(ValueError):
    """A corpus file is not in the expected JSONL format."""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=CORPUS_DIR)
    ap.add_argument("--seed", type=int, default=SEED)
    a = ap.parse_args(argv)
    m = corpus_write(a.out, a.seed)
    print(json.dumps({k: {"notes": v["notes"], "spans": v["spans"]} for k, v in m["splits"].items()}))


if __name__ == "__main__":
    main()
