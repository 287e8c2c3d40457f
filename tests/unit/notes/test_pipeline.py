from __future__ import annotations

from batch.notes.pipeline import notes_process, sentences_split

NOTE = """PATIENT NAME: John Smith   MRN: 00123456   ADMISSION DATE: 03/14/2024
HISTORY OF PRESENT ILLNESS: Mr. Smith has a history of CHF and presents with dyspnea and a fever
of 102.4°F. He denies chest pain. Rule out pneumonia.
FAMILY HISTORY: Mother with breast cancer.
MEDICATIONS: Metoprolol 25 mg, furosemide 40 mg.
PHYSICAL EXAMINATION: BP 142/88 mmHg, HR 104, SpO2 91% on room air. No JVD.
"""


def test_note_end_to_end():
    r = notes_process(NOTE)
    assert "John" not in r["text"] and "Smith" not in r["text"] and "00123456" not in r["text"]
    assert "03/14/2024" not in r["text"]
    ents = {(e["text"].lower(), e["section"]): e for e in r["entities"]}
    assert ents[("chf", "history_of_present_illness")]["historical"]
    assert not ents[("dyspnea", "history_of_present_illness")]["negated"]
    assert ents[("chest pain", "history_of_present_illness")]["negated"]
    assert ents[("pneumonia", "history_of_present_illness")]["hypothetical"]
    assert ents[("breast cancer", "family_history")]["family"]
    assert ents[("jvd", "physical_exam")]["negated"]
    assert ents[("metoprolol", "medications")]["label"] == "MEDICATION"
    temps = [m for m in r["measurements"] if m["kind"] == "temperature"]
    assert temps[0]["values"] == {"temp_c": 39.1}
    assert {m["kind"] for m in r["measurements"]} >= {"blood_pressure", "heart_rate", "spo2"}
    assert r["summary"]["problems_negated"] == ["chest pain", "jvd"]
    assert "breast cancer" in r["summary"]["problems_family"]
    for e in r["entities"]:  # offsets point into the de-identified text
        assert r["text"][e["start"] : e["end"]] == e["text"]


def test_lowercase_abbreviation_is_not_an_entity():
    r = notes_process("pe: normal. PE was ruled out.")
    assert [(e["text"], e["negated"]) for e in r["entities"]] == [("PE", True)]


def test_sentence_split():
    t = "No fever. Has cough.\n\nDENIES: pain"
    spans = [t[a:b] for a, b in sentences_split(t)]
    assert spans == ["No fever.", "Has cough.", "DENIES:", "pain"]
