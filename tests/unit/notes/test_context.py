from __future__ import annotations

import pytest

from batch.notes.context import context_of, triggers_find


def ctx(sentence: str, target: str):
    i = sentence.index(target)
    return context_of(sentence, i, i + len(target))


@pytest.mark.parametrize(
    "sentence,target,negated",
    [
        ("Patient denies chest pain.", "chest pain", True),
        ("No fever, chills, or night sweats.", "night sweats", True),
        ("There is no evidence of pneumonia.", "pneumonia", True),
        ("Pulmonary embolism was ruled out.", "Pulmonary embolism", True),
        ("Denies chest pain but reports shortness of breath.", "shortness of breath", False),
        ("Denies chest pain but reports shortness of breath.", "chest pain", True),
        ("No change in the pleural effusion.", "pleural effusion", False),  # pseudo-trigger
        ("Gram negative rods grew from the blood culture.", "rods", False),  # pseudo-trigger
        ("The patient has pneumonia.", "pneumonia", False),
        ("Fecal occult blood was negative.", "Fecal occult blood", True),  # backward trigger
        ("Rule out myocardial infarction.", "myocardial infarction", False),  # hypothetical
        ("No headache; has nausea.", "nausea", False),  # clause ends the scope
    ],
)
def test_negation(sentence, target, negated):
    assert ctx(sentence, target).negated is negated


def test_historical_hypothetical_family():
    s = "She has a history of breast cancer."
    assert ctx(s, "breast cancer").historical and not ctx(s, "breast cancer").negated
    s = "Return to the ED if you develop chest pain."
    assert ctx(s, "chest pain").hypothetical
    s = "Rule out pulmonary embolism."
    assert ctx(s, "pulmonary embolism").hypothetical
    s = "Her mother had colon cancer."
    r = ctx(s, "colon cancer")
    assert r.family and "mother" in r.triggers["family"]
    s = "Family history of diabetes, but the patient has hypertension."
    assert ctx(s, "diabetes").family and not ctx(s, "hypertension").family
    s = "Presents with cough and fever."
    r = ctx(s, "fever")
    assert not (r.negated or r.historical or r.hypothetical or r.family)


def test_pseudo_trigger_blocks_shorter_trigger_inside_it():
    kinds = [(m.phrase, m.kind) for m in triggers_find("no significant change in size", "negated")]
    assert kinds == [("no significant change", "pseudo")]
