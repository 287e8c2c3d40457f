"""Section detection in clinical notes: ``HEADER:`` titles mapped to canonical section names.

Section titles follow the common discharge-summary / H&P headings (cf. Denny JC et al.,
Evaluation of a method to identify and categorize section headers in clinical documents,
JAMIA 16(6), 2009 -- SecTag; and the section rules of medspaCy's ``Sectionizer``). A title is a
run of upper-case words (or a known title in any case at the start of a line) followed by a
colon. Pure functions over strings.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

#: Canonical section -> titles that map to it (upper case, single spaces).
SECTION_TITLES: dict[str, list[str]] = {
    "chief_complaint": [
        "CHIEF COMPLAINT",
        "CC",
        "REASON FOR ADMISSION",
        "REASON FOR VISIT",
        "REASON FOR CONSULTATION",
        "PRESENTING COMPLAINT",
    ],
    "history_of_present_illness": [
        "HISTORY OF PRESENT ILLNESS",
        "HPI",
        "HISTORY OF THE PRESENT ILLNESS",
        "PRESENT ILLNESS",
        "HISTORY",
    ],
    "past_medical_history": [
        "PAST MEDICAL HISTORY",
        "PMH",
        "PAST HISTORY",
        "MEDICAL HISTORY",
        "PAST MEDICAL AND SURGICAL HISTORY",
        "PMHX",
    ],
    "past_surgical_history": ["PAST SURGICAL HISTORY", "PSH", "SURGICAL HISTORY"],
    "family_history": ["FAMILY HISTORY", "FH", "FHX", "FAMILY HX"],
    "social_history": ["SOCIAL HISTORY", "SH", "SOCIAL HX", "HABITS"],
    "medications": [
        "MEDICATIONS",
        "MEDS",
        "CURRENT MEDICATIONS",
        "HOME MEDICATIONS",
        "MEDICATIONS ON ADMISSION",
        "ADMISSION MEDICATIONS",
        "OUTPATIENT MEDICATIONS",
    ],
    "discharge_medications": ["DISCHARGE MEDICATIONS", "MEDICATIONS ON DISCHARGE", "DISCHARGE MEDS"],
    "allergies": ["ALLERGIES", "ALLERGY", "DRUG ALLERGIES", "ADVERSE REACTIONS"],
    "review_of_systems": ["REVIEW OF SYSTEMS", "ROS", "SYSTEMS REVIEW"],
    "physical_exam": [
        "PHYSICAL EXAMINATION",
        "PHYSICAL EXAM",
        "EXAM",
        "EXAMINATION",
        "PE",
        "ADMISSION PHYSICAL EXAMINATION",
        "PHYSICAL FINDINGS",
    ],
    "vital_signs": ["VITAL SIGNS", "VITALS", "VS"],
    "labs": [
        "LABORATORY DATA",
        "LABORATORY",
        "LABS",
        "LABORATORY STUDIES",
        "LABORATORY RESULTS",
        "PERTINENT RESULTS",
        "DATA",
    ],
    "imaging": ["IMAGING", "RADIOLOGY", "STUDIES", "CHEST X-RAY", "CXR", "CT", "FINDINGS"],
    "hospital_course": [
        "HOSPITAL COURSE",
        "BRIEF HOSPITAL COURSE",
        "COURSE",
        "CLINICAL COURSE",
        "HOSPITAL COURSE BY PROBLEM",
    ],
    "assessment_and_plan": [
        "ASSESSMENT AND PLAN",
        "ASSESSMENT/PLAN",
        "A/P",
        "A&P",
        "ASSESSMENT",
        "PLAN",
        "IMPRESSION AND PLAN",
        "RECOMMENDATIONS",
    ],
    "impression": ["IMPRESSION", "CLINICAL IMPRESSION", "CONCLUSION"],
    "diagnoses": [
        "DISCHARGE DIAGNOSIS",
        "DISCHARGE DIAGNOSES",
        "ADMISSION DIAGNOSIS",
        "ADMISSION DIAGNOSES",
        "DIAGNOSIS",
        "DIAGNOSES",
        "FINAL DIAGNOSIS",
        "FINAL DIAGNOSES",
        "PRINCIPAL DIAGNOSIS",
        "SECONDARY DIAGNOSES",
        "PROBLEM LIST",
    ],
    "procedures": [
        "PROCEDURES",
        "PROCEDURE",
        "OPERATIONS",
        "OPERATION",
        "PROCEDURES PERFORMED",
        "DESCRIPTION OF OPERATION",
        "DESCRIPTION OF PROCEDURE",
    ],
    "disposition": [
        "DISPOSITION",
        "DISCHARGE DISPOSITION",
        "DISCHARGE INSTRUCTIONS",
        "DISCHARGE CONDITION",
        "CONDITION ON DISCHARGE",
        "FOLLOW-UP",
        "FOLLOW UP",
    ],
}
_TITLE_TO_SECTION = {t: sec for sec, titles in SECTION_TITLES.items() for t in titles}

#: Sections whose findings are historical / about a relative, for ConText defaults.
HISTORICAL_SECTIONS = frozenset({"past_medical_history", "past_surgical_history"})
FAMILY_SECTIONS = frozenset({"family_history"})
HYPOTHETICAL_SECTIONS = frozenset({"disposition"})

# Upper-case title (letters, digits, space, / & - ( ) ,) of 2-60 chars followed by ":".
_UPPER_TITLE = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9/&(),\- ]{1,58}[A-Z)])\s*:")
# Known title in any case at the start of a line.
_LINE_TITLE = re.compile(r"(?m)^[ \t]*([A-Za-z][A-Za-z/&\- ]{1,58}[A-Za-z])[ \t]*:")


@dataclass(frozen=True)
class Section:
    """One section: canonical name, the title as written, and character offsets.

    ``start`` is the title's start, ``body_start`` the first character after the colon,
    ``end`` the start of the next section (or the end of the text).
    """

    name: str
    title: str
    start: int
    body_start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _canonical(title: str) -> str | None:
    t = re.sub(r"\s+", " ", title.strip().upper())
    return _TITLE_TO_SECTION.get(t)


def sections_detect(text: str) -> list[Section]:
    """Split ``text`` into sections.

    Parameters
    ----------
    text : str
        A clinical note.

    Returns
    -------
    list of Section
        In text order. Text before the first title is section ``"preamble"``; an unknown
        upper-case title gives section ``"other"``.

    Examples
    --------
    >>> [s.name for s in sections_detect("HPI: cough. FAMILY HISTORY: mother with diabetes.")]
    ['history_of_present_illness', 'family_history']
    """
    heads: dict[int, tuple[str, str, int]] = {}
    for m in _UPPER_TITLE.finditer(text):
        title = m.group(1).strip()
        # Keep the longest known suffix: "PATIENT SEEN. PAST MEDICAL HISTORY:" style runs.
        words = title.split()
        name = None
        for i in range(len(words)):
            cand = " ".join(words[i:])
            name = _canonical(cand)
            if name:
                off = m.start(1) + title.find(cand) if i else m.start(1)
                heads[off] = (name, cand, m.end())
                break
        if name is None and len(title) >= 3 and not re.fullmatch(r"[\d\s/]+", title):
            heads[m.start(1)] = ("other", title, m.end())
    for m in _LINE_TITLE.finditer(text):
        name = _canonical(m.group(1))
        if name and m.start(1) not in heads:
            heads[m.start(1)] = (name, m.group(1).strip(), m.end())
    out: list[Section] = []
    starts = sorted(heads)
    if not starts or (starts[0] > 0 and text[: starts[0]].strip()):
        first = starts[0] if starts else len(text)
        out.append(Section("preamble", "", 0, 0, first))
    for i, s in enumerate(starts):
        name, title, body = heads[s]
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        out.append(Section(name, title, s, body, end))
    return out


def section_at(sections: list[Section], offset: int) -> Section | None:
    """The section that contains character ``offset``."""
    for s in sections:
        if s.start <= offset < s.end:
            return s
    return None
