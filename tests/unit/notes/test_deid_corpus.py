"""The committed de-identification corpus: reproducible, valid spans, a real held-out test split."""

from __future__ import annotations

import json

import pytest

from batch.notes.deid import FIRST_NAMES, SURNAMES
from batch.notes.deid_corpus import CATEGORIES, CORPUS_DIR, SPLIT_SIZES, corpus_read, corpus_write
from batch.notes.deid_surrogates import FIRST_B, LAST_B, TOWNS_B


@pytest.fixture(scope="module")
def corpus():
    return {s: corpus_read(CORPUS_DIR, s) for s in SPLIT_SIZES}


def test_rebuild_is_byte_identical(tmp_path):
    corpus_write(tmp_path)
    for name in [f"{s}.jsonl.gz" for s in SPLIT_SIZES] + ["manifest.json"]:
        assert (tmp_path / name).read_bytes() == (CORPUS_DIR / name).read_bytes(), name


def test_spans_are_valid(corpus):
    for split, notes in corpus.items():
        assert len(notes) == SPLIT_SIZES[split]
        for n in notes:
            last = 0
            for sp in sorted(n["spans"], key=lambda s: s["start"]):
                assert last <= sp["start"] < sp["end"] <= len(n["text"])
                assert sp["category"] in CATEGORIES
                value = n["text"][sp["start"] : sp["end"]]
                assert value.strip() == value and value
                last = sp["end"]


def test_every_category_in_test_split(corpus):
    cats = {sp["category"] for n in corpus["test"] for sp in n["spans"]}
    assert cats == set(CATEGORIES)


def test_test_split_is_held_out(corpus):
    seen = {(n["style"], n["template"]) for s in ("train", "dev") for n in corpus[s]}
    test = {(n["style"], n["template"]) for n in corpus["test"]}
    assert not seen & test
    assert "ed_triage" in {s for s, _ in test} and "ed_triage" not in {s for s, _ in seen}
    # Test surrogate names are in no gazetteer and never in train/dev.
    assert not {n.lower() for n in FIRST_B} & FIRST_NAMES
    assert not {n.lower() for n in LAST_B} & SURNAMES

    def values(cat):
        return {
            w
            for s in ("train", "dev")
            for n in corpus[s]
            for sp in n["spans"]
            if sp["category"] == cat
            for w in n["text"][sp["start"] : sp["end"]].replace("-", " ").split()
        }

    assert not values("NAME") & set(FIRST_B + LAST_B)
    assert not values("LOCATION") & set(TOWNS_B)


def test_manifest_counts(corpus):
    m = json.loads((CORPUS_DIR / "manifest.json").read_text())
    for split, notes in corpus.items():
        assert m["splits"][split]["spans"] == sum(len(n["spans"]) for n in notes)


def test_safe_vocabulary_rebuild_matches_committed():
    from batch.notes.deid_vocab import VOCAB_PATH, vocab_build
    from wardwatch.settings import shared_data

    words = vocab_build(shared_data("negex", "annotations-reports-1-60.tsv"), CORPUS_DIR)
    assert VOCAB_PATH.read_text() == "".join(w + "\n" for w in sorted(words))
