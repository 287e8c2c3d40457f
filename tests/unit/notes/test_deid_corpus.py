"""The committed de-identification corpus: reproducible, valid spans, a real held-out test split."""

from __future__ import annotations

import json

import pytest

from batch.notes.deid import FIRST_NAMES, SURNAMES
from batch.notes.deid_corpus import (
    CATEGORIES,
    CORPUS_DIR,
    HELDOUT_SPLITS,
    SPLIT_SIZES,
    corpus_read,
    corpus_write,
)
from batch.notes.deid_surrogates import TEST_NAME_LOCALES, TRAIN_NAME_LOCALES, name_lists, person_lists


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


@pytest.mark.parametrize("split", HELDOUT_SPLITS)
def test_every_category_in_heldout_splits(corpus, split):
    cats = {sp["category"] for n in corpus[split] for sp in n["spans"]}
    assert cats == set(CATEGORIES)


def _lower(*lists):
    return {n.lower() for names in lists for n in names}


def test_faker_name_lists_overlap_and_the_heldout_lists_do_not():
    """Faker's locales share many names (en_IE and en_US: Murphy, Kelly...): the held-out lists
    are what is left after removing every train name, and they share nothing with it."""
    train = _lower(*name_lists("train"))
    raw_test = _lower(*(n for loc in TEST_NAME_LOCALES for n in person_lists(loc)))
    assert len(raw_test & train) > 500  # the raw lists do overlap: the subtraction matters
    test = _lower(*name_lists("test"))
    fresh = _lower(*name_lists("fresh"))
    assert len(test) > 5000 and len(fresh) > 2000
    assert not test & train and not fresh & train and not fresh & test
    assert not test & (FIRST_NAMES | SURNAMES) and not fresh & (FIRST_NAMES | SURNAMES)
    # The gazetteers are exactly Faker's en_US lists, and en_US is a train locale.
    assert "en_US" in TRAIN_NAME_LOCALES and train >= FIRST_NAMES | SURNAMES


def _values(corpus, splits, cat):
    return {
        n["text"][sp["start"] : sp["end"]]
        for s in splits
        for n in corpus[s]
        for sp in n["spans"]
        if sp["category"] == cat
    }


def _words(values):
    return {w.lower() for v in values for w in v.replace("-", " ").replace(",", " ").split()}


def test_test_split_is_held_out(corpus):
    seen = {(n["style"], n["template"]) for s in ("train", "dev") for n in corpus[s]}
    for split in HELDOUT_SPLITS:
        held = {(n["style"], n["template"]) for n in corpus[split]}
        assert not seen & held
        assert "ed_triage" in {s for s, _ in held} and "ed_triage" not in {s for s, _ in seen}
    # No name word of train/dev is a name word of test or fresh (titles and initials aside).
    train_words = _words(_values(corpus, ("train", "dev"), "NAME"))
    for split in HELDOUT_SPLITS:
        held_words = _words(_values(corpus, (split,), "NAME"))
        shared = {w for w in train_words & held_words if len(w.rstrip(".")) > 1}
        assert not shared, sorted(shared)[:10]
        # Towns, streets and institutions never repeat between train/dev and the held-out splits.
        for cat in ("LOCATION", "ADDRESS", "INSTITUTION"):
            both = _values(corpus, ("train", "dev"), cat) & _values(corpus, (split,), cat)
            assert not {
                v
                for v in both
                if any(c.isalpha() for c in v)
                and not v.startswith(("Apt", "Apartment", "Unit", "Suite", "#"))
            }, both


def test_manifest_counts(corpus):
    m = json.loads((CORPUS_DIR / "manifest.json").read_text())
    for split, notes in corpus.items():
        assert m["splits"][split]["spans"] == sum(len(n["spans"]) for n in notes)


def test_safe_vocabulary_and_gazetteers_rebuild_matches_committed():
    from batch.notes.deid_vocab import (
        FIRST_NAMES_PATH,
        SURNAMES_PATH,
        VOCAB_PATH,
        gazetteer_build,
        vocab_build,
    )
    from wardwatch.settings import shared_data

    words = vocab_build(shared_data("negex", "annotations-reports-1-60.tsv"), CORPUS_DIR)
    assert VOCAB_PATH.read_text() == "".join(w + "\n" for w in sorted(words))
    first, last = gazetteer_build()
    assert FIRST_NAMES_PATH.read_text() == "".join(n + "\n" for n in sorted(first))
    assert SURNAMES_PATH.read_text() == "".join(n + "\n" for n in sorted(last))
    assert frozenset(first) == FIRST_NAMES and frozenset(last) == SURNAMES
