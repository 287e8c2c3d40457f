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

import bisect
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


def _name_list(name: str) -> frozenset[str]:
    return frozenset((Path(__file__).parent / name).read_text().split())


#: Name gazetteers, lower case: Faker's ``en_US`` person lists (US SSA first names, Census
#: surnames as Faker maintains them); committed files rebuilt by
#: ``python -m batch.notes.deid_vocab`` (Faker is needed only to rebuild them).
FIRST_NAMES = _name_list("deid_first_names.txt")
SURNAMES = _name_list("deid_surnames.txt")

_STATE_ABBR = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    r"NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)"
)
_STATE_NAME = (
    r"(?:Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|"
    r"Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|"
    r"Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|"
    r"New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|"
    r"Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    r"West Virginia|Wisconsin|Wyoming)"
)
_STATE = r"(?:" + _STATE_NAME + r"|" + _STATE_ABBR + r")"
#: A capitalised word: O'Brien, D'Angelo, McAllister, DeLuca, Nguyen-Tran, Gołębiowski, KWAME.
#: An upper-case letter: ASCII and every Latin capital of U+00C0-U+024F (Á, Ł, Š, Ș, Đ...).
_UP = "[A-Z" + "".join(c for c in map(chr, range(0xC0, 0x250)) if c.isupper()) + "]"
_CAPW = r"(?<![\w'\u2019])" + _UP + r"[^\W\d_]*(?:['\u2019-][^\W\d_]+)*(?![\w'\u2019])"
_INIT = _UP + r"\."
#: Lower-case particles inside names: "Pieter van der Berg", "Angus de la Fleche", "Ms. van Waas".
_PARTICLE = r"(?:van|von|vom|de|der|den|del|della|di|da|du|des|le|la|het|ter|ten|dos|das|bin|ibn|af|zu|'t)"
_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Doctor|Nurse|Sister)\.?"
_CRED = r"(?:MD|M\.D\.|DO|RN|NP|PA|PA-C|BSN|MSN|PhD|LPN|CNA|APRN|CNP|FNP|RT|PT|OT|LICSW|MPH|DPM)"
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ORD = r"(?:st|nd|rd|th)?"
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq|Trail|Path|Row)\.?"
)
_INST_SUFFIX = (
    r"(?:Nursing and Rehabilitation Center|Nursing & Rehabilitation Center|Skilled Nursing Facility|"
    r"Regional Medical Center|Medical Center|General Hospital|Community Hospital|Memorial Hospital|"
    r"Rehabilitation Center|Rehabilitation Hospital|Health Center|Nursing Home|Nursing Center|"
    r"Assisted Living|Senior Living|Care Center|Hospital|Clinic|Rehab|Manor|Hospice|Infirmary|"
    r"Healthcare|Health System|Home for the Aged)"
)
_FAMILY = (
    r"(?:daughter|son|wife|husband|sister|brother|niece|nephew|granddaughter|grandson|mother|"
    r"father|mom|dad|partner|friend|spouse|aunt|uncle|cousin|fianc[eé]e?|girlfriend|boyfriend|"
    r"stepdaughter|stepson|guardian|proxy|neighbor|caregiver)"
)
#: Cue words after which a capitalised word is a name (case-insensitive cue).
_NAME_CUES = (
    r"(?:patient|pt|name|pt\s+name|patient\s+name|re|attending(?:\s+physician)?|physician|surgeon|"
    r"provider|pcp|primary\s+care(?:\s+(?:physician|provider))?|referring(?:\s+(?:physician|provider))?|"
    r"ordering(?:\s+(?:physician|provider))?|requested\s+by|reported\s+by|read\s+by|radiologist|"
    r"dictated\s+by|transcribed\s+by|signed(?:\s+by)?|electronically\s+signed(?:\s+by)?|cc|"
    r"triage\s+(?:rn|nurse)|rn|md|np|nurse|tech|fellow|resident|intern|hospitalist|cardiologist|"
    r"by|seen\s+by|evaluated\s+by|examined\s+by|accepted\s+by|discussed\s+with|spoke\s+with|"
    r"called\s+to|communicated\s+to|paged|per|report\s+from|follow(?:ed)?[\s-]+up\s+with|"
    r"contact|primary\s+contact|emergency\s+contact|nok|next\s+of\s+kin|author|care\s+assumed\s+for|"
    r"" + _FAMILY + r"(?:'s)?)"
)

_NUM_CONTEXT_FRACTIONS = re.compile(
    r"(?i:(?:pain|strength|motor|power|score|scale|grade|murmur|reflexes|gcs|apgar)\W{0,3}(?:\w+\W{1,3})?$)"
)


def _rx(p: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(p, flags)


# (category, pattern, group to replace). Order matters: earlier rules claim their spans.
_RULES: list[tuple[str, re.Pattern[str], int]] = [
    # Tags left by the De-ID tool in the NegEx corpus: **NAME[AAA, BBB], **DATE[Sep 27 2007].
    ("NAME", _rx(r"\*\*NAME\[[^\]]*\]"), 0),
    ("DATE", _rx(r"\*\*DATE\[[^\]]*\]"), 0),
    ("ID", _rx(r"\*\*(?:ID-NUM|MRN|ACCOUNT)\b(?:\[[^\]]*\])?"), 0),
    ("PHONE", _rx(r"\*\*PHONE\b(?:\[[^\]]*\])?"), 0),
    ("EMAIL", _rx(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6}\b"), 0),
    ("URL", _rx(r"\b(?:https?://|www\.)[^\s<>\"')\]]+[^\s<>\"')\].,;:]", re.IGNORECASE), 0),
    (
        "URL",
        _rx(
            r"\b[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,6}\.(?:com|org|net|edu|gov|us|info|io)(?:/[^\s<>\"')\]]*)?",
            re.IGNORECASE,
        ),
        0,
    ),
    (
        "IP",
        _rx(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.]*\d)"),
        0,
    ),
    ("ID", _rx(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])"), 0),  # SSN
    (
        "ID",
        _rx(
            r"(?i:\b(?:mrn|mr\s*#|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s*#|"
            r"account\s*(?:number|no\.?|#)?|acct\.?\s*(?:#|no\.?)?|ssn|social\s+security\s+(?:number|no\.?|#)?|"
            r"patient\s+id|pt\s+id|id\s*(?:number|no\.?|#)|insurance\s+(?:id|number|#)|member\s+id|"
            r"policy\s*(?:number|no\.?|#)|medicare\s+(?:id|number|#)|medicaid\s+(?:id|number|#)|"
            r"accession\s*(?:number|no\.?|#)?|unit\s+(?:number|no\.?)|encounter\s*(?:#|number|no\.?)|"
            r"fin|csn|visit\s*(?:#|number)|license\s*(?:number|no\.?|#)?)(?!\w))"
            r"(?:\s+on\s+file)?\s*[:#]?\s*((?=[A-Z0-9-]{0,40}\d)[A-Z0-9][A-Z0-9-]{3,})"
        ),
        1,
    ),
    (
        "ID",
        _rx(
            r"(?i:\b(?:serial\s*(?:number|no\.?|#)?|s/n|sn|tele(?:metry)?\s+box|box\s*#|device\s+id)"
            r"(?!\w))\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{4,})"
        ),
        1,
    ),
    (
        "PHONE",
        _rx(
            r"(?<![\d/.-])(?:(?:\+|00|011)[\s.-]?1[\s.-]?|1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}(?![\d/-])"
            r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?",
            re.IGNORECASE,
        ),
        0,
    ),
    (
        "PHONE",
        _rx(
            r"(?i:\b(?:pager|pgr|beeper|bpr|paged(?:\s+at)?|page|extension|ext\.?|tel\.?|phone|cell|"
            r"fax)(?:\s+(?:number|no\.?|#))?)\s*[#:]?\s*(\d(?:-?\d){3,5})(?![\d/:]|\.\d)"
        ),
        1,
    ),
    ("PHONE", _rx(r"(?<![\w-])[xX]\d{3,5}\b"), 0),
    # Dates: numeric with year, ISO, month-name forms. A bare year is kept (Safe Harbor allows it).
    ("DATE", _rx(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"), 0),
    ("DATE", _rx(r"(?<![\d.])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d.]*\d)"), 0),
    ("DATE", _rx(r"\b(?:the\s+)?\d{1,2}" + _ORD + r"\s+(?:of\s+)?" + _MONTHS + r"\.?(?:,?\s+\d{4})?\b"), 0),
    ("DATE", _rx(r"\b\d{1,2}-" + _MONTHS + r"-\d{2,4}\b"), 0),
    ("DATE", _rx(r"\b" + _MONTHS + r"\.?(?:\s+|-)\d{1,2}" + _ORD + r"(?:,?\s+\d{4})?\b"), 0),
    ("DATE", _rx(r"\b" + _MONTHS + r"\.?,?\s+\d{4}\b"), 0),
    (
        "AGE",
        _rx(
            r"\b(?:9\d|1[0-1]\d)(?=\s*-?\s*(?:years?|yrs?|y/?o\b|y\.o\.|yo\b|year-old|[MF]\b))",
            re.IGNORECASE,
        ),
        0,
    ),
    ("AGE", _rx(r"(?i:\bage[d:]?\s*)(9\d|1[0-1]\d)\b"), 1),
    ("ID", _rx(r"(?<![\d-])\d{3}-\d{2}-\d{2}(?![\d-])"), 0),
    # Street addresses, apartments, ZIP codes, towns before a state or ZIP.
    (
        "ADDRESS",
        _rx(r"\b\d{1,6}[ \t]+(?:[A-Z][^\W\d_]*\.?[ \t]+){1,3}" + _STREET_SUFFIX + r"(?!\w)"),
        0,
    ),
    ("ADDRESS", _rx(r"\b(?:Apt|Apartment|Suite|Ste)\.?\s*#?\s*\d+[A-Z]?\b"), 0),
    ("ZIP", _rx(r"\b" + _STATE + r",?\s+(\d{5}(?:-\d{4})?)\b"), 1),
    ("ZIP", _rx(r"(?i:\bzip(?:\s*code)?\s*[:#]?\s*)(\d{5}(?:-\d{4})?)\b"), 1),
    ("ZIP", _rx(r"\b\d{5}-\d{4}\b"), 0),
    # Long numbers and letter-digit codes are identifiers whatever their label.
    (
        "ID",
        _rx(
            r"\b(?=[A-Z0-9-]{0,40}\d[A-Z0-9-]{0,40}\d[A-Z0-9-]{0,40}\d)(?=[A-Z0-9-]{0,40}[A-Z])"
            r"[A-Z0-9]{2,}(?:-[A-Z0-9]+){0,8}\b"
        ),
        0,
    ),
    ("ID", _rx(r"(?<![\d.,/])\d{7,}(?![\d.,/])"), 0),
    (
        "DATE",
        _rx(r"(?<![\d/.:-])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?![\d/])"),
        -2,
    ),
]
#: Bare ``m/d`` that are clinical fractions (pain 3/10, strength 5/5, murmur 2/6) are kept:
#: a score word before it (``_NUM_CONTEXT_FRACTIONS``) or one of these after it.
_FRACTION_AFTER = re.compile(
    r"(?i:[ \t]+(?:strength|murmur|systolic|diastolic|holosystolic|motor|in\s+all|throughout|"
    r"bilaterally|b/l|upper|lower|pain|on\s+the\s+pain))"
)

_REPLACEMENT = {
    "NAME": "[NAME]",
    "DATE": "[DATE]",
    "ID": "[ID]",
    "PHONE": "[PHONE]",
    "EMAIL": "[EMAIL]",
    "URL": "[URL]",
    "AGE": "90+",
    "ADDRESS": "[ADDRESS]",
    "LOCATION": "[LOCATION]",
    "ZIP": "[ZIP]",
    "INSTITUTION": "[INSTITUTION]",
    "IP": "[IP]",
}

_CAPW_RX = re.compile(_CAPW)
_INST_RX = re.compile(
    r"(?<![\w'\u2019])((?:(?:"
    + _CAPW
    + r",[ \t]+"
    + _CAPW
    + r"[ \t]+and[ \t]+(?:"
    + _PARTICLE
    + r"[ \t]+){0,2})?"
    r"(?:St\.|Saint|" + _CAPW + r")"
    r"(?:[ \t]+(?:of|the|and|de|la|St\.|" + _CAPW + r")){0,5}?)[ \t]+)"
    r"(" + _INST_SUFFIX + r"(?:[ \t]+" + _INST_SUFFIX + r")*)(?![\w])"
)
_TITLE_RX = re.compile(
    r"\b" + _TITLES + r"\s+((?:" + _INIT + r"\s*)?" + _CAPW + r"(?:\s+(?:" + _INIT + r"\s+)?" + _CAPW + r")?)"
)
_CRED_RX = re.compile(r",?\s+" + _CRED + r"(?![\w])")
_FAMILY_RX = re.compile(r"(?i:\b" + _FAMILY + r")")
#: Title-case words after a relation word that are not the relative's name.
_NOT_RELATIVE_NAMES = frozenset(
    "the he she his her and or is was who at by to in on of with from has had will called "
    "states reports requests visited notes present aware".split()
)
_CUE_RX = re.compile(r"(?i:(?<![\w])" + _NAME_CUES + r")(?:[ \t]*[:,(][ \t]*|[ \t]+)(?=" + _UP + r")")
_INVERTED_RX = re.compile(
    r"((?i:" + _PARTICLE + r"[ \t]+){0,2}" + _CAPW + r"),\s+(" + _CAPW + r")(?:\s+(" + _INIT + r"))?"
)
#: Between two words of one name: blanks, initials, particles ("V.", "van der", "de la").
_NAME_GAP = re.compile(r"\s+(?:" + _INIT + r"\s+)?(?:" + _PARTICLE + r"\s+){0,3}(?:'t\s+)?")
_PLACE_RX = re.compile(
    r"(?i:\b(?:lives|living|resides|residing|resident|home|located|moved)\s+(?:in|at|of|to|near)\s+|"
    r"\b(?:from|in|of|near)[ \t]+)((?:" + _CAPW + r")(?:[ \t]+" + _CAPW + r"){0,2})"
)
#: State abbreviations that are also common note words (MD, PA, DO...): a ZIP must follow.
_STATE_AMBIGUOUS = (
    r"(?:MD|PA|ME|IN|OR|OK|DE|HI|ID|CO|LA|MS|OH|AL|MO|MT|SC|CT|VA|WA|NE|NC|ND|MI|IL|GA|AR|UT|SD|NV)"
)
_TOWN_STATE_RX = re.compile(
    r"((?:" + _CAPW + r")(?:[ \t]+" + _CAPW + r"){0,2}),?[ \t]+(?=" + _STATE_NAME + r"\b|"
    r"(?!" + _STATE_AMBIGUOUS + r"\b)" + _STATE_ABBR + r"\b|" + _STATE_ABBR + r",?\s+\d{5})"
)
_TOWN_ZIP_RX = re.compile(r"((?:" + _CAPW + r")(?:[ \t]+" + _CAPW + r"){0,2}),?[ \t]+(?=\d{5}(?:-\d{4})?\b)")
_SENT_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*|[-*•]\s+)$")
_LABEL_AFTER = re.compile(r"[ \t]*:")
#: Verbs whose subject at the start of a sentence is a person: "O'Brien paged at ...".
_PERSON_VERB = re.compile(
    r"[ \t]+(?:paged|called|aware|notified|agrees|agreed|states|stated|reports|reported|says|said|"
    r"was|is|has|had|ambulated|ambulating|resting|denies|denied|visited|requests|requested|"
    r"arrived|presented|tolerated|refused|declined|signed|wants|lives)\b"
)
_REL_PAREN_RX = re.compile(
    r"(" + _CAPW + r")[ \t]*\((?:" + _FAMILY + r")\)|(?i:\b" + _FAMILY + r")[ \t]*\((" + _CAPW + r")\)"
)
_BLANKS = re.compile(r"[ \t]+")
_APT_AFTER = re.compile(r",?\s*((?:Unit|#|No\.?)\s*\d+[A-Z]?)\b")
_ZIP_AFTER = re.compile(r",?\s+(\d{5}(?:-\d{4})?)\b")
#: First words of place names that are also common words: kept with the town ("North Andrew").
_STATE_NAME_RX = re.compile(_STATE_NAME)
_PLACE_PREFIXES = frozenset(
    "New Fall North South East West Port Lake Mount Fort Saint St. Glen Grand Upper Lower Little Old".split()
)
#: A word of a street or town name: "O'Callaghan", "Somers-Philbin", "van der Horst", "África".
_PLACE_WORD = (
    r"(?:"
    + _PARTICLE
    + r"[ \t]+){0,2}(?!(?:Apt|Apartment|Unit|Suite|Ste|Flat)\b)"
    + _UP
    + r"[^\W\d_]*(?:['\u2019-][^\W\d_]+)*(?![\w'\u2019])"
)
_TOWN_WORDS = r"(?:St\.[ \t]+)?" + _PLACE_WORD + r"(?:[ \t]+" + _PLACE_WORD + r"){0,2}"
#: A street with any suffix (USPS, Australian: "Wade", "Parade"), when an apartment, a town with a
#: state or ZIP, or a town at the end of the sentence follows; or after "lives at", "address".
_STREET_CONTEXT_RX = re.compile(
    r"(?i:\b(?:lives|living|resides|residing|home|address|located|moved)(?:[ \t]+(?:at|to|is|on))?"
    r"[ \t]*:?[ \t]+)(\d{1,6}[A-Z]?[ \t]+" + _PLACE_WORD + r"(?:[ \t]+" + _PLACE_WORD + r"){1,4})"
    r"|(?<=,[ \t])(\d{1,6}[A-Z]?[ \t]+" + _PLACE_WORD + r"(?:[ \t]+" + _PLACE_WORD + r"){0,4})"
    r"(?=,?[ \t]+(?:Apt|Apartment|Unit|Suite|Ste|Flat|#)|,[ \t]*"
    + _TOWN_WORDS
    + r"(?:,?[ \t]+"
    + _STATE
    + r"\b|,?[ \t]+\d{5}\b|[ \t]*(?:[.;\n]|$))|[ \t]+in[ \t]+"
    + _UP
    + r"|[ \t]*(?:\n|$))"
)
#: A town right after a street or apartment: ", Anaheraville.", ", South Toribio, MA", " in Kallerttown".
_TOWN_AFTER_RX = re.compile(
    r"(?:,[ \t]*|[ \t]+in[ \t]+)("
    + _TOWN_WORDS
    + r")(?=,?[ \t]+"
    + _STATE
    + r"\b|,?[ \t]+\d{5}\b|[ \t]*(?:[.;,\n]|$)"
    r"|[ \t]+(?:by|with|at|alone)\b)"
)
_PARTICLES_BEFORE = re.compile(r"(?i:(?<![\w'\u2019-])(?:" + _PARTICLE + r"[ \t]+){1,3})$")
_AGE_NAME_RX = re.compile(
    r"(?m)^[ \t]*("
    + _CAPW
    + r"(?:[ \t]+(?:"
    + _PARTICLE
    + r"[ \t]+){0,3}(?:"
    + _INIT
    + r"[ \t]+)?"
    + _CAPW
    + r"){0,3})"
    r",?[ \t]+\d{1,3}[ \t]*(?:yo\b|y/o\b|y\.o\.|-?years?[ -]old\b|-?year-old\b|yrs?\b)"
)
_FUNCTION_WORDS = frozenset(
    {"of", "and", "the", "with", "without", "for", "to", "on", "in", "at", "by", "or"}
)


def _acronym_like(word: str) -> bool:
    """All capitals (a header word) or two capitals in a row (PVCs, HFrEF): not a name form."""
    return word.isupper() or bool(re.search(r"[A-Z]{2}", word))


def _header_line(text: str, pos: int, newlines: list[int]) -> bool:
    """The word sits on a short line of capitalised words only (a title: "Cardiology Consult").

    ``newlines``: positions of the text's line breaks (so a long line costs nothing per word)."""
    k = bisect.bisect_left(newlines, pos)
    a = newlines[k - 1] + 1 if k > 0 else 0
    b = newlines[k] if k < len(newlines) else len(text)
    if b - a > 80:
        return False
    line = text[a:b]
    words = re.findall(r"[^\W\d_]+", line)
    if len(words) < 2 or len(words) > 6 or any(c in line for c in ",:0123456789"):
        return False
    return all(w[0].isupper() or w in _FUNCTION_WORDS for w in words)


#: Words that are never names even if unknown to the vocabulary (note furniture).
_NEVER_NAMES = frozenset({"the", "he", "she", "his", "her", "patient", "pt", "pt's", "mr", "mrs", "ms", "dr"})


_vocab_override: list[frozenset[str]] = []


@lru_cache(maxsize=1)
def _safe_words_file() -> frozenset[str]:
    path = Path(__file__).parent / "deid_safe_words.txt"
    if not path.exists():
        return frozenset()
    return frozenset(path.read_text().split())


def safe_words() -> frozenset[str]:
    """The safe vocabulary (``deid_safe_words.txt``, built by :mod:`batch.notes.deid_vocab`),
    or the one set by :func:`vocab_override`."""
    return _vocab_override[-1] if _vocab_override else _safe_words_file()


@contextmanager
def vocab_override(words: frozenset[str]) -> Iterator[None]:
    """Use ``words`` as the safe vocabulary inside the block (for validation experiments)."""
    _vocab_override.append(words)
    try:
        yield
    finally:
        _vocab_override.pop()


def _known(word: str) -> bool:
    """A capitalised word the vocabulary knows (every part of a hyphenated word)."""
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    vocab = safe_words()
    if w in vocab or w in _NEVER_NAMES:
        return True
    parts = [p for p in re.split(r"[-']", w) if p]
    return bool(parts) and all(p in vocab for p in parts)


@lru_cache(maxsize=1)
def _lexicon_words() -> frozenset[str]:
    """Words of the notes lexicon's terms (drugs, problems, procedures): never a relative's name."""
    from batch.notes.lexicon import MEDICATIONS, PROBLEMS, PROCEDURES

    return frozenset(
        w for t in MEDICATIONS + PROBLEMS + PROCEDURES for w in re.findall(r"[^\W\d_]+", t.lower())
    )


def _acronym(word: str) -> bool:
    return word.isupper() and len(word) <= 3


def _gazetteer(word: str) -> bool:
    w = word.lower()
    return w in FIRST_NAMES or w in SURNAMES


def _namelike(word: str) -> bool:
    """Could be a name: unknown to the vocabulary, or in a name gazetteer."""
    if _acronym(word):
        return False
    return not _known(word) or _gazetteer(word)


def _sentence_start(text: str, pos: int) -> bool:
    before = text[max(0, pos - 4) : pos]
    if re.search(r"(?<![\w])[A-Z]\.\s+$", before):  # after an initial: "Kenji U. MacLeod"
        return False
    return pos == 0 or bool(_SENT_START.search(before))


def _name_run(text: str, pos: int, *, label: bool = False, family: bool = False) -> tuple[int, int] | None:
    """The run of capitalised words / initials starting at ``pos`` (same line).

    An all-capitals word that is in no gazetteer counts only after a field label (``Name:``) or
    in the inverted form ``LAST, FIRST``: otherwise it is a heading or an upper-case finding."""
    rx = re.compile(
        r"(?:" + _INIT + r"[ \t]*)?" + _CAPW + r"(?:[ \t]+(?:" + _INIT + r"[ \t]+)?" + _CAPW + r"){0,5}"
    )
    m = rx.match(text, pos)
    if not m:
        return None
    inverted = _INVERTED_RX.match(text, m.start()) is not None
    # Stop at words that are clearly not names (known words that are not in a gazetteer).
    words = [w for w in _CAPW_RX.finditer(text, m.start(), m.end()) if len(w.group()) > 1]
    end = m.start()
    for k, w in enumerate(words):
        tok = w.group()
        shout = tok.isupper() and len(tok) > 3 and not _gazetteer(tok) and not (label or inverted)
        surname = (
            k == 1
            and tok.istitle()
            and _namelike(words[0].group())
            and _SURNAME_END.match(text, w.end()) is not None
        )
        if k > 0 and ((not _namelike(tok) and not _gazetteer(tok) and not surname) or shout):
            break
        relative = (
            family
            and not label
            and k == 0
            and tok.istitle()
            and tok.lower() not in _NOT_RELATIVE_NAMES
            and tok.lower() not in _lexicon_words()
        )
        after_initial = k == 0 and w.start() > m.start() and tok.istitle()  # "PCP T. Room"
        acronym = _acronym(tok) and not (inverted and not _known(tok))  # "Patient DUA, ENZO"
        if k == 0 and (
            acronym or (_known(tok) and not _gazetteer(tok) and not relative and not after_initial) or shout
        ):
            return None
        end = w.end()
    return (m.start(), end) if end > m.start() else None


#: What may follow a surname that is also a word: punctuation, a parenthesis, a line end, a wide gap.
_SURNAME_END = re.compile(r"[ \t]*(?:[(,;:]|\n|$)|[ \t]{2,}")
_CRED_WORD_RX = re.compile(r"(?:(" + _CAPW + r")|(" + _INIT + r"))\s*$")


def _before_credential(text: str, k: int) -> tuple[int, int] | None:
    """The name words right before a credential at ``k``: "Yaw Radcliffe, RN", "J. Reyes, MD"."""
    starts: list[int] = []
    pos = k
    while len(starts) < 4:
        seg = text[max(0, pos - 60) : pos]
        w = _CRED_WORD_RX.search(seg)
        if not w or "\n" in seg[w.start() :]:
            break
        word = w.group(1)
        if word and (_acronym(word) or (_known(word) and not _gazetteer(word) and starts)):
            break
        pos = pos - len(seg) + w.start()
        starts.append(pos)
    if not starts:
        return None
    s, e = min(starts), k
    while e > s and not text[e - 1].isalnum() and text[e - 1] != ".":
        e -= 1
    return s, e


def _cue_names(text: str, claim: Any) -> None:
    """The name run after each cue word (``seen by``, ``daughter``, ``Name:``)."""
    for m in _CUE_RX.finditer(text):
        family = _FAMILY_RX.search(m.group()) is not None
        run = _name_run(text, m.end(), label=":" in m.group(), family=family)
        inv0 = _INVERTED_RX.match(text, m.end())
        if run is None and inv0 and not _known(inv0.group(1).split()[-1]) and not _known(inv0.group(2)):
            claim(inv0.start(), inv0.end(), "NAME")  # "Care assumed for DE SWART, ANSALDO"
        if run:
            s, e = run
            inv = _INVERTED_RX.match(text, s)
            claim(s, max(e, inv.end()) if inv else e, "NAME")


def _names(text: str, claim: Any) -> None:
    """Name rules with a cue: titles, credentials, cue words, relations, ``LAST, FIRST``."""
    for m in _TITLE_RX.finditer(text):
        claim(m.start(1), m.end(1), "NAME")
    for m in _CRED_RX.finditer(text):
        span = _before_credential(text, m.start())
        if span:
            claim(*span, "NAME")
    _cue_names(text, claim)
    # "Ignatz Post, 23 yo male": a name opening a line, followed by an age.
    for m in _AGE_NAME_RX.finditer(text):
        words = _CAPW_RX.findall(m.group(1))
        if any(_namelike(x) for x in words) and not any(x.lower() in _NEVER_NAMES for x in words):
            claim(m.start(1), m.end(1), "NAME")
    # "Yolanda (wife)", "friend (Ludmila)".
    for m in _REL_PAREN_RX.finditer(text):
        g = 1 if m.group(1) else 2
        if not _acronym(m.group(g)) and not (_known(m.group(g)) and not _gazetteer(m.group(g))):
            claim(m.start(g), m.end(g), "NAME")
    for m in _INVERTED_RX.finditer(text):
        a, b = m.group(1), m.group(2)
        shout = a.isupper() or b.isupper()
        if _namelike(a) and _namelike(b) and (not shout or _gazetteer(a) or _gazetteer(b)):
            claim(m.start(), m.end(), "NAME")


def _names_unknown(text: str, claim: Any, taken: bytearray) -> None:
    """Any capitalised word the vocabulary does not know, or a gazetteer name next to another."""

    def free(s: int, e: int) -> bool:
        return not any(taken[s:e])

    words = list(_CAPW_RX.finditer(text))
    newlines = [m.start() for m in re.finditer("\n", text)]
    for i, w in enumerate(words):
        tok = w.group()
        # All-capital words need a label or the LAST, FIRST form (:func:`_names`), even when in a
        # gazetteer: "GROSS CARDIOMEGALY", "STRONG RADIAL PULSES" are findings.
        if _acronym(tok) or tok.isupper() or not free(w.start(), w.end()):
            continue
        if not _known(tok):
            if not _gazetteer(tok) and (
                _acronym_like(tok)
                or _LABEL_AFTER.match(text, w.end())
                or _header_line(text, w.start(), newlines)
            ):
                continue
            if _sentence_start(text, w.start()):  # needs more evidence than being unknown
                # The next word (initials skipped): "Eraldo V. Scholz", "Pasi van der Smeede".
                nxt = next((o for o in words[i + 1 : i + 3] if len(o.group()) > 1), None)
                adj = nxt is not None and _NAME_GAP.fullmatch(text, w.end(), nxt.start())
                if not (
                    _gazetteer(tok)
                    or (adj and nxt is not None and _namelike(nxt.group()))
                    or _PERSON_VERB.match(text, w.end())
                ):
                    continue
            claim(w.start(), w.end(), "NAME")
        elif _gazetteer(tok):
            prev = words[i - 1] if i > 0 else None
            nxt = words[i + 1] if i + 1 < len(words) else None
            near = [
                o
                for o in (prev, nxt)
                if o is not None
                and re.fullmatch(
                    r"\s+(?:[A-Z]\.\s+)?", text[min(o.end(), w.end()) : max(o.start(), w.start())]
                )
                and (_gazetteer(o.group()) or not _known(o.group()))
            ]
            if near or _PERSON_VERB.match(text, w.end()):
                claim(w.start(), w.end(), "NAME")


def _places(text: str, claim: Any) -> None:
    for m in _INST_RX.finditer(text):
        pre = m.group(1)
        words = _CAPW_RX.findall(pre)
        # Trim leading known words that are not part of the name ("Outpatient PT through").
        if words and any(not _known(w) or _gazetteer(w) for w in words if not _acronym(w)):
            claim(m.start(1), m.end(2), "INSTITUTION")
    for rx in (_TOWN_STATE_RX, _TOWN_ZIP_RX):
        for m in rx.finditer(text):
            words = _CAPW_RX.findall(m.group(1))
            if words and not any(w.isupper() for w in words):
                # Keep only the trailing words that look like a place name.
                s = m.start(1)
                for w in _CAPW_RX.finditer(m.group(1)):
                    if _known(w.group()) and not _gazetteer(w.group()) and w.group() not in _PLACE_PREFIXES:
                        s = m.start(1) + w.end()
                    else:
                        break
                s += len(text[s : m.end(1)]) - len(text[s : m.end(1)].lstrip())
                if s < m.end(1) and not _STATE_NAME_RX.fullmatch(text, s, m.end(1)):
                    claim(s, m.end(1), "LOCATION")
                    z = _ZIP_AFTER.match(text, m.end(1))
                    if z:
                        claim(z.start(1), z.end(1), "ZIP")
    for m in _PLACE_RX.finditer(text):
        words = _CAPW_RX.findall(m.group(1))
        if any(not _known(w) and not _acronym_like(w) for w in words):
            claim(m.start(1), m.end(1), "LOCATION")


def _propagate(text: str, spans: list[tuple[int, int, str]], claim: Any) -> None:
    """Every other capitalised occurrence of a word already removed as part of a name."""
    names = {
        w.group().lower()
        for s, e, c in spans
        if c == "NAME"
        for w in _CAPW_RX.finditer(text, s, e)
        if len(w.group()) > 1 and not _acronym(w.group())
    }
    names -= {w for w in names if _known(w) and not _gazetteer(w)}
    if not names:
        return
    for w in _CAPW_RX.finditer(text):
        if w.group().lower() in names:
            claim(w.start(), w.end(), "NAME")


def _initials(text: str, spans: list[tuple[int, int, str]], claim: Any) -> None:
    """Initials next to a removed name: "Imani W. [NAME]", "A. [NAME]"."""
    starts = {s for s, _, c in spans if c == "NAME"}
    ends = {e for _, e, c in spans if c == "NAME"}
    for m in re.finditer(r"(?<![\w'\u2019])[A-Z]\.", text):
        after = _BLANKS.match(text, m.end())
        before = re.search(r"[ \t]+$", text[max(0, m.start() - 3) : m.start()])
        nxt = after.end() if after else m.end()
        prv = m.start() - (len(before.group()) if before else 0)
        if (after and nxt in starts) or (before and prv in ends):
            claim(m.start(), m.end(), "NAME")


def _particles(text: str, spans: list[tuple[int, int, str]], claim: Any) -> None:
    """Name particles right before a removed name, institution or place: "van der [NAME]"."""
    for s, _e, c in sorted(spans):
        if c in ("NAME", "INSTITUTION", "LOCATION", "ADDRESS"):
            m = _PARTICLES_BEFORE.search(text, max(0, s - 24), s)
            if m:
                claim(m.start(), m.end(), c)


def _addresses(text: str, spans: list[tuple[int, int, str]], claim: Any) -> None:
    """Streets framed by an address context, then the apartment and the town right after them."""
    for m in _STREET_CONTEXT_RX.finditer(text):
        g = 1 if m.group(1) else 2
        claim(m.start(g), m.end(g), "ADDRESS")
    # Apartment numbers right after a street address: "12 Elm St, Unit 4", "... #12"; then the town.
    for _s, e, c in list(spans):
        if c == "ADDRESS":
            apt = _APT_AFTER.match(text, e)
            if apt:
                claim(apt.start(1), apt.end(1), "ADDRESS")
    for _s, e, c in sorted(spans):
        if c == "ADDRESS":
            town = _TOWN_AFTER_RX.match(text, e)
            if town and not _STATE_NAME_RX.fullmatch(town.group(1)) and not town.group(1).isupper():
                claim(town.start(1), town.end(1), "LOCATION")


@dataclass
class DeidResult:
    """De-identified text and a count per replaced category (no original values kept)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "n_replaced": sum(self.counts.values())}


def _apply_rules(text: str, claim: Any) -> None:
    """The regular-expression rules of :data:`_RULES`, in order."""
    for cat, rx, grp in _RULES:
        for m in rx.finditer(text):
            if grp == -2:  # bare m/d: not a clinical fraction, not "pain 3/10"
                before = text[max(0, m.start() - 25) : m.start()]
                if _NUM_CONTEXT_FRACTIONS.search(before) or _FRACTION_AFTER.match(text, m.end()):
                    continue
                claim(m.start(), m.end(), cat)
                continue
            claim(m.start(grp), m.end(grp), cat)


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
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and not any(taken[s:e]):
            taken[s:e] = b"\x01" * (e - s)
            spans.append((s, e, cat))

    _apply_rules(text, claim)
    _addresses(text, spans, claim)
    _places(text, claim)
    _names(text, claim)
    # Propagate only names found with a cue (title, label, credential, relation, inverted form):
    # an unknown word alone is weaker evidence ("Virus" in a heading).
    strong = [sp for sp in spans if sp[2] == "NAME"]
    _names_unknown(text, claim, taken)
    _propagate(text, strong, claim)
    _initials(text, spans, claim)
    _particles(text, spans, claim)
    spans.sort()
    out: list[str] = []
    pos = 0
    for s, e, cat in spans:
        out.append(text[pos:s])
        out.append(_REPLACEMENT[cat])
        pos = e
    out.append(text[pos:])
    return DeidResult("".join(out), dict(Counter(c for _, _, c in spans)), spans)
