from __future__ import annotations

from batch.notes.deid import deid_text

NOTE = """PATIENT NAME: John Smith   MRN: 00123456   DOB: 04/12/1950
Seen by Dr. Alice Walker on March 3, 2021. Call (412) 555-0199 or jwalker@example.org.
Ms. Garcia is a 93-year-old woman. BP 120/80 mmHg. Account #: AB123456.
Dictated by: WALKER, ALICE R.  The patient denies fever. SSN 123-45-6789. Seen on 3/14."""

IDENTIFIERS = [
    "John",
    "Smith",
    "00123456",
    "04/12/1950",
    "Alice",
    "Walker",
    "WALKER",
    "March 3, 2021",
    "555-0199",
    "jwalker@example.org",
    "Garcia",
    "93",
    "AB123456",
    "123-45-6789",
    "3/14",
]


def test_identifiers_are_removed():
    r = deid_text(NOTE)
    for ident in IDENTIFIERS:
        assert ident not in r.text, ident
    assert r.counts["NAME"] >= 4 and r.counts["DATE"] >= 3 and r.counts["ID"] >= 3
    assert r.counts["PHONE"] == 1 and r.counts["EMAIL"] == 1 and r.counts["AGE"] == 1


def test_clinical_content_is_kept():
    r = deid_text(NOTE)
    for keep in ("BP 120/80 mmHg", "denies fever", "year-old woman", "PATIENT NAME:", "MRN:"):
        assert keep in r.text, keep


def test_deid_tool_tags_are_replaced():
    t = "PATIENT NAME:  **NAME[AAA, BBB M]  ACCOUNT #:  **ID-NUM  ADMISSION DATE:  **DATE[Sep 27 2007]"
    r = deid_text(t)
    assert "AAA" not in r.text and "Sep 27" not in r.text and "**" not in r.text
    assert r.text.count("[NAME]") == 1 and r.text.count("[DATE]") == 1 and "[ID]" in r.text


def test_services_and_years_survive():
    r = deid_text("He was seen by Cardiology. MI in 2015. Follow up in 2 weeks.")
    assert r.text == "He was seen by Cardiology. MI in 2015. Follow up in 2 weeks."
