from __future__ import annotations

from batch.notes.sections import section_at, sections_detect

NOTE = """CHIEF COMPLAINT: chest pain.
HISTORY OF PRESENT ILLNESS: 65 yo man. PAST MEDICAL HISTORY: CAD, DM.
Family history: mother with breast cancer.
MEDICATIONS: aspirin 81 mg. Time: 10:30
ASSESSMENT AND PLAN: admit."""


def test_sections_found_and_canonicalised():
    secs = sections_detect(NOTE)
    assert [s.name for s in secs] == [
        "chief_complaint",
        "history_of_present_illness",
        "past_medical_history",
        "family_history",
        "medications",
        "assessment_and_plan",
    ]
    fam = secs[3]
    assert NOTE[fam.body_start : fam.end].strip() == "mother with breast cancer."
    assert section_at(secs, NOTE.index("CAD")).name == "past_medical_history"


def test_preamble_and_unknown_titles():
    secs = sections_detect("Note for today.\nWEIRD HEADING: something")
    assert [s.name for s in secs] == ["preamble", "other"]
    assert secs[1].title == "WEIRD HEADING"
