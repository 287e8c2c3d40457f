"""Build the de-identifier's safe vocabulary: words that are not PHI when capitalised.

The de-identifier (:mod:`batch.notes.deid`) treats a capitalised word it does not know as a
possible name or place. "Knowing" a word means it is in ``deid_safe_words.txt``, rebuilt by::

    python -m batch.notes.deid_vocab --negex ../shared/data/negex/annotations-reports-1-60.tsv

Sources, each a word list the project can have:

- the NegEx test set (Chapman 2001; Apache 2.0): real de-identified discharge-summary
  sentences; words seen in lower case there, and capitalised words seen in at least two
  different reports (headings, upper-case findings; that corpus's names are behind
  ``**NAME[...]`` tags);
- the notes lexicon (:mod:`batch.notes.lexicon`): every word of every term;
- spaCy's English stop words;
- the TRAIN split of the de-identification corpus: words outside annotated PHI (this is what
  the de-identifier "learns" from its training data; dev and test are never read);
- the few proper nouns below that are never PHI (months, weekdays, US states, languages).

The same command rebuilds the name gazetteers (``deid_first_names.txt``, ``deid_surnames.txt``)
from Faker's ``en_US`` person lists (US SSA first names and Census surnames as Faker maintains
them). Faker is needed only to rebuild; the worker reads the committed files.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from batch.notes.lexicon import MEDICATIONS, PROBLEMS, PROCEDURES

VOCAB_PATH = Path(__file__).parent / "deid_safe_words.txt"
FIRST_NAMES_PATH = Path(__file__).parent / "deid_first_names.txt"
SURNAMES_PATH = Path(__file__).parent / "deid_surnames.txt"
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")

#: Proper nouns that are not PHI (Safe Harbor keeps states; months/weekdays alone are not dates).
NOT_PHI = """
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
saturday sunday alabama alaska arizona arkansas california colorado connecticut delaware florida
georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland
massachusetts michigan minnesota mississippi missouri montana nebraska nevada new hampshire
jersey mexico york north south carolina dakota ohio oklahoma oregon pennsylvania rhode island
tennessee texas utah vermont virginia washington west wisconsin wyoming english spanish
portuguese french chinese mandarin cantonese vietnamese haitian creole russian arabic
medicare medicaid american african asian hispanic latino caucasian christian jewish muslim
catholic jehovah's witness foley doppler gram tele hospitalist bsn rn md np do pa phd lpn cna
braden glasgow morse apgar valsalva trendelenburg babinski romberg kernig brudzinski homans
cardiology neurology surgery medicine oncology nephrology psychiatry orthopedics urology
pulmonary pulmonology gastroenterology infectious hematology endocrinology dermatology
radiology anesthesia physical occupational social nutrition pharmacy palliative hospice
rheumatology ophthalmology obstetrics gynecology pediatrics emergency critical trauma vascular
interventional cardiac cardiothoracic plastic transplant wound speech department
"""


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def vocab_build(negex: Path | None, corpus: Path | None) -> set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    words: set[str] = set(NOT_PHI.split()) | {w.lower() for w in STOP_WORDS}
    for term in MEDICATIONS + PROBLEMS + PROCEDURES:
        words.update(_words(term))
    if negex is not None:
        capitalised: dict[str, set[str]] = {}
        with negex.open(newline="") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                if len(row) >= 3:
                    text = re.sub(r"\*\*[A-Z-]+(?:\[[^\]]*\])?", " ", row[2])
                    for w in _WORD.findall(text):
                        if w.islower():
                            words.add(w)
                        else:
                            capitalised.setdefault(w.lower(), set()).add(row[0])
        # Capitalised words outside the De-ID tags in at least two patients' reports: headings
        # and findings ("Interpretation", "VIRUS"), not names (those are behind **NAME tags).
        words.update(w for w, reports in capitalised.items() if len(reports) >= 2)
    if corpus is not None:
        from batch.notes.deid_corpus import corpus_read

        words |= vocab_from_notes(corpus_read(corpus, "train"))
    return {w for w in words if len(w) > 1}


def gazetteer_build() -> tuple[set[str], set[str]]:
    """(first names, surnames), lower case, from Faker's gazetteer locale (``en_US``)."""
    from batch.notes.deid_surrogates import GAZETTEER_LOCALE, person_lists

    first, last = person_lists(GAZETTEER_LOCALE)
    return {n.lower() for n in first}, {n.lower() for n in last}


def vocab_from_notes(notes: Iterable[dict[str, Any]]) -> set[str]:
    """Words of annotated notes outside their PHI spans."""
    words: set[str] = set()
    for note in notes:
        mask = list(note["text"])
        for sp in note["spans"]:
            mask[sp["start"] : sp["end"]] = " " * (sp["end"] - sp["start"])
        words.update(w for w in _words("".join(mask)) if len(w) > 1)
    return words


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description="Rebuild batch/notes/deid_safe_words.txt and the name gazetteers (Faker en_US)"
    )
    ap.add_argument("--negex", type=Path, help="NegEx test-set TSV")
    ap.add_argument("--corpus", type=Path, default=Path(__file__).parent / "deid_corpus")
    ap.add_argument("--out", type=Path, default=VOCAB_PATH)
    a = ap.parse_args(argv)
    words = vocab_build(a.negex, a.corpus)
    a.out.write_text("".join(w + "\n" for w in sorted(words)))
    print(f"{len(words)} words -> {a.out}")
    if a.out == VOCAB_PATH:  # the committed vocabulary goes with the committed gazetteers
        for names, path in zip(gazetteer_build(), (FIRST_NAMES_PATH, SURNAMES_PATH), strict=True):
            path.write_text("".join(n + "\n" for n in sorted(names)))
            print(f"{len(names)} names -> {path}")


if __name__ == "__main__":
    main()
