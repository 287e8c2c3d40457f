"""Rule-based de-identification of clinical text: names, dates, ids (MRN, account, SSN),
phone/fax numbers, e-mail and web addresses, ages over 89, and De-ID tool tags.

Targets the HIPAA Safe Harbor identifiers that appear in note text (45 CFR 164.514(b)(2)):
names; dates (except year) directly related to the patient; telephone and fax numbers; e-mail
addresses; SSNs, medical record, account and other identifying numbers; URLs; ages over 89.
Patterns in the spirit of the regular-expression de-identification of Neamatullah I et al.,
Automated de-identification of free-text medical records, BMC Med Inform Decis Mak 8:32 (2008)
(the PhysioNet ``deid`` package): titled names (``Dr. Smith``), names after field labels
(``Patient name:``), a first-name lexicon followed by a capitalised word, and a few contextual
cues (``seen by``, ``signed by``). Rules cannot promise full recall: a free-standing surname
with no cue survives. Pure functions over strings.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Common US first names (Social Security Administration top names, abridged), lower case.
FIRST_NAMES = frozenset(
    """
james john robert michael william david richard joseph thomas charles christopher daniel
matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy
ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott
brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron
jose adam nathan henry douglas zachary peter kyle walter ethan jeremy harold keith christian
roger noah gerald carl terry sean austin arthur lawrence jesse dylan bryan joe jordan billy
bruce albert willie gabriel logan alan juan wayne roy ralph randy eugene vincent russell louis
philip bobby johnny bradley mary patricia jennifer linda elizabeth barbara susan jessica sarah
karen nancy lisa betty margaret sandra ashley kimberly emily donna michelle dorothy carol
amanda melissa deborah stephanie rebecca sharon laura cynthia kathleen amy shirley angela
helen anna brenda pamela nicole emma samantha katherine christine debra rachel catherine
carolyn janet ruth maria heather diane virginia julie joyce victoria olivia kelly christina
lauren joan evelyn judith megan cheryl andrea hannah martha jacqueline frances gloria ann
teresa kathryn sara janice jean alice madison doris abigail julia judy grace denise amber
marilyn beverly danielle theresa sophia marie diana brittany natalie isabella charlotte rose
alexis kayla mildred edna ethel gladys lillian florence irene louise norma agnes hazel
""".split()
)

#: Common US surnames (Census 2010 most frequent, abridged), lower case.
SURNAMES = frozenset(
    """
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez
gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris
sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill
flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips
evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers
gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson
watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders
patel myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler
henderson barnes gonzales fisher vasquez simmons romero jordan patterson alexander hamilton
graham reynolds griffin wallace moreno west cole hayes bryant herrera gibson ellis tran
medina aguilar stevens murray ford castro marshall owens harrison fernandez mcdonald woods
washington kennedy wells vargas henry chen freeman webb tucker guzman burns crawford olson
simpson porter hunter gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes
palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice schmidt
garza daniels ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley
spencer hawkins arnold pierce vazquez hansen peters santos hart bradley knight elliott
cunningham duncan armstrong hudson carroll lane riley andrews alvarado ray delgado berry
perkins hoffman johnston matthews pena richards willis carpenter lawrence sandoval
""".split()
)

_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Doctor|Nurse|Sister)\.?"
_CAP = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)

#: Words that end a name run after a field label.
_STOPWORDS = (
    r"(?:The|He|She|This|Patient|MRN|DOB|MR|ID|Account|Acct|Date|Age|Sex|Room|Unit|"
    r"Admission|Discharge|Attending|Service|Phone|Tel)\b"
)
#: Services and teams a note is "seen by" that are not people.
_SERVICES = (
    r"(?:Cardiology|Neurology|Surgery|Medicine|Oncology|Nephrology|Psychiatry|"
    r"Orthopedics|Urology|Pulmonary|Pulmonology|Gastroenterology|GI|ID|Infectious|"
    r"Hematology|Endocrinology|Dermatology|Radiology|Anesthesia|Physical|Occupational|"
    r"Social|Nutrition|Pharmacy|Palliative|Hospice|Rheumatology|Ophthalmology|ENT|"
    r"Obstetrics|Gynecology|Pediatrics|Emergency|Critical|Trauma|Vascular|Case|"
    r"Interventional|Cardiac|Cardiothoracic|Plastic|Transplant|Wound|Speech)\b"
)

# (category, pattern, group to replace or 0). Order matters: earlier rules claim their spans.
_RULES: list[tuple[str, re.Pattern[str], int]] = [
    # Tags left by the De-ID tool in the NegEx corpus: **NAME[AAA, BBB], **DATE[Sep 27 2007].
    ("NAME", re.compile(r"\*\*NAME\[[^\]]*\]"), 0),
    ("DATE", re.compile(r"\*\*DATE\[[^\]]*\]"), 0),
    ("ID", re.compile(r"\*\*(?:ID-NUM|MRN|ACCOUNT)\b(?:\[[^\]]*\])?"), 0),
    ("PHONE", re.compile(r"\*\*PHONE\b(?:\[[^\]]*\])?"), 0),
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), 0),
    ("URL", re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE), 0),
    ("ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), 0),  # SSN
    (
        "ID",
        re.compile(
            r"(?i:\b(?:mrn|medical\s+record\s+(?:number|no\.?|#)|mr\s*#|record\s*#|account\s*(?:number|no\.?|#)?|"
            r"acct\.?\s*(?:#|no\.?)?|ssn|social\s+security\s+(?:number|no\.?|#)|patient\s+id|pt\s+id|"
            r"id\s*(?:number|no\.?|#)|unit\s+(?:number|no\.?)|encounter\s*(?:#|number|no\.?)|"
            r"fin|csn|visit\s*(?:#|number))(?!\w))\s*[:#]?\s*((?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,})"
        ),
        1,
    ),
    (
        "PHONE",
        re.compile(
            r"(?<![\d/])(?:\+?1[\s.-]?)?\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b"
            r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?"
        ),
        0,
    ),
    # Dates: numeric with year, ISO, month-name forms. A bare year is kept (Safe Harbor allows it).
    ("DATE", re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b"), 0),
    ("DATE", re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b"), 0),
    ("DATE", re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS + r",?\s+\d{4}\b"), 0),
    ("DATE", re.compile(r"\b" + _MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b"), 0),
    (
        "DATE",
        re.compile(
            r"(?i:\b(?:on|since|from|until|dated|seen|admitted|discharged)\s+)"
            r"(\d{1,2}/\d{1,2})\b(?!\s*(?:mm|/))"
        ),
        1,
    ),
    (
        "AGE",
        re.compile(r"\b(?:9\d|1[0-1]\d)(?=\s*(?:-|\s)?\s*(?:years?|yrs?|y/?o|year-old)\b)", re.IGNORECASE),
        0,
    ),
    # Names: after a title, after a field label, after a cue, or a known first name + surname.
    ("NAME", re.compile(_TITLES + r"\s+((?:[A-Z]\.\s*)?" + _CAP + r"(?:\s+" + _CAP + r")?)"), 1),
    (
        "NAME",
        re.compile(
            r"(?i:\b(?:patient(?:'s)?\s+name|name|pt\s+name|attending(?:\s+physician)?|"
            r"physician|surgeon|provider|pcp|primary\s+care\s+(?:physician|provider)|"
            r"referring\s+(?:physician|provider)|dictated\s+by|signed\s+by|electronically\s+signed\s+by|"
            r"cc|nok|next\s+of\s+kin|emergency\s+contact|contact|author)\s*:\s*)"
            r"((?:" + _CAP + r"|[A-Z]{2,})"
            r"(?:,?[ ](?!" + _STOPWORDS + r")(?:" + _CAP + r"|[A-Z]{2,}|[A-Z]\b\.?)){0,3})"
        ),
        1,
    ),
    (
        "NAME",
        re.compile(
            r"(?i:\b(?:seen\s+by|evaluated\s+by|examined\s+by|signed\s+by|per|"
            r"discussed\s+with|spoke\s+with|husband|wife|son|daughter|mother|"
            r"father)\s+)(?!(?:Mr|Mrs|Ms|Miss|Dr|Prof)\b|" + _SERVICES + r")"
            r"(" + _CAP + r"(?:\s+" + _CAP + r")?)"
            r"(?=\s*(?:,|\.|$|\s+(?:MD|RN|DO|NP|PA)\b|\s+[a-z]))"
        ),
        1,
    ),
    ("NAME", re.compile(r"\b(" + _CAP + r")\s+(?:[A-Z]\.\s+)?(" + _CAP + r")\b"), -1),
]

_REPLACEMENT = {
    "NAME": "[NAME]",
    "DATE": "[DATE]",
    "ID": "[ID]",
    "PHONE": "[PHONE]",
    "EMAIL": "[EMAIL]",
    "URL": "[URL]",
    "AGE": "90+",
}

#: Capitalised words that open a sentence or are clinical and are never first names here.
_NOT_NAMES = frozenset(
    {
        "may",
        "will",
        "grace",
        "rose",
        "mark",
        "bill",
        "art",
        "joy",
        "hope",
        "faith",
        "iris",
        "june",
        "april",
        "august",
        "jack",
        "frank",
    }
)


@dataclass
class DeidResult:
    """De-identified text and a count per replaced category (no original values kept)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "n_replaced": sum(self.counts.values())}


def deid_text(text: str) -> DeidResult:
    """Replace identifiers in ``text`` with ``[NAME]``, ``[DATE]``, ``[ID]``, ``[PHONE]``...

    Parameters
    ----------
    text : str
        Raw note text.

    Returns
    -------
    DeidResult
        ``text`` with replacements, ``counts`` per category and ``spans`` (start, end,
        category) in the *original* text (for audit; never stored with the original).

    Examples
    --------
    >>> deid_text("Seen by Dr. Alice Smith on 03/14/2024, MRN: 12345678.").text
    'Seen by Dr. [NAME] on [DATE], MRN: [ID].'
    """
    taken = bytearray(len(text))
    spans: list[tuple[int, int, str]] = []

    def claim(s: int, e: int, cat: str) -> None:
        if e > s and not any(taken[s:e]):
            taken[s:e] = b"\x01" * (e - s)
            spans.append((s, e, cat))

    for cat, rx, grp in _RULES:
        for m in rx.finditer(text):
            if grp == -1:  # first-name lexicon rule: both words, only if the first is a known name
                first = m.group(1)
                if first.lower() in FIRST_NAMES and first.lower() not in _NOT_NAMES:
                    claim(m.start(1), m.end(2), cat)
                continue
            claim(m.start(grp), m.end(grp), cat)
    spans.sort()
    out: list[str] = []
    pos = 0
    for s, e, cat in spans:
        out.append(text[pos:s])
        out.append(_REPLACEMENT[cat])
        pos = e
    out.append(text[pos:])
    return DeidResult("".join(out), dict(Counter(c for _, _, c in spans)), spans)
