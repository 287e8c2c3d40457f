"""ConText: negation, temporality and experiencer of a target concept in a sentence.

An implementation of the trigger/scope algorithm of

* Chapman WW, Bridewell W, Hanbury P, Cooper GF, Buchanan BG. A simple algorithm for
  identifying negated findings and diseases in discharge summaries. J Biomed Inform
  34(5):301-310 (2001) -- NegEx: pre- and post-negation triggers, pseudo-triggers that block a
  shorter trigger inside them, and termination terms that end a trigger's scope;
* Harkema H, Dowling JN, Thornblade T, Chapman WW. ConText: an algorithm for determining
  negation, experiencer, and temporal status from clinical reports. J Biomed Inform
  42(5):839-851 (2009) -- the same machinery for three properties (negated, historical /
  hypothetical, experiencer "other"/family), with scope running to the end of the sentence
  unless a termination term of the same property ends it first.

The trigger lists are our own curation, seeded from the lists published with NegEx and ConText
and extended on reports 1-30 of the NegEx test set only (reports 31-60 are held out; see
:mod:`batch.notes.negex_eval`). Pure functions over strings: no spaCy needed here, the spaCy
component in :mod:`batch.notes.pipeline` calls :func:`context_of`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

Direction = Literal["forward", "backward", "both"]
Category = Literal["negated", "historical", "hypothetical", "family"]
CATEGORIES: tuple[Category, ...] = ("negated", "historical", "hypothetical", "family")

# --------------------------------------------------------------------------- lexicon
# Negation (NegEx PREN / POST / PSEU / CONJ).
NEG_FORWARD = [
    "no",
    "not",
    "without",
    "denies",
    "denied",
    "deny",
    "denying",
    "negative for",
    "free of",
    "absence of",
    "absent",
    "never",
    "none",
    "nor",
    "neither",
    "no evidence of",
    "no evidence",
    "no evidence to suggest",
    "no sign of",
    "no signs of",
    "no signs or symptoms of",
    "no clinical signs or symptoms of",
    "no symptoms of",
    "no findings of",
    "no findings to indicate",
    "no suggestion of",
    "no history of",
    "no known",
    "no new",
    "no further",
    "no other",
    "no obvious",
    "no definite",
    "no significant",
    "no acute",
    "no complaints of",
    "no complaint of",
    "not demonstrate",
    "did not demonstrate",
    "did not show",
    "does not show",
    "did not reveal",
    "does not reveal",
    "not reveal",
    "fails to reveal",
    "failed to reveal",
    "not see",
    "not seen",
    "not appreciated",
    "not appreciate",
    "not have",
    "not had",
    "did not have",
    "does not have",
    "not exhibit",
    "did not exhibit",
    "not complain of",
    "did not complain of",
    "not associated with",
    "not known to have",
    "never had",
    "never developed",
    "unremarkable for",
    "resolution of",
    "resolved",
    "with no",
    "without any",
    "without evidence of",
    "without any evidence of",
    "without signs of",
    "without sign of",
    "without indication of",
    "rather than",
    "cannot",
    "can't",
    "doesn't",
    "didn't",
    "wasn't",
    "weren't",
    "isn't",
    "aren't",
    "hasn't",
    "haven't",
    "nontender",
    "non-tender",
    "negative",
    "ruled out",
    "was not",
    "were not",
    "is not",
    "are not",
    "patient was not",
    "no longer",
    "not any",
    "denies any",
    "denied any",
    "lack of",
    "lacks",
    "free from",
]
NEG_BACKWARD = [
    "is ruled out",
    "was ruled out",
    "were ruled out",
    "are ruled out",
    "has been ruled out",
    "have been ruled out",
    "been ruled out",
    "ruled out",
    "is negative",
    "was negative",
    "were negative",
    "are negative",
    "negative",
    "not seen",
    "is not seen",
    "was not seen",
    "were not seen",
    "are not seen",
    "not present",
    "is absent",
    "was absent",
    "absent",
    "unlikely",
    "is unlikely",
    "free",
    "resolved",
    "has resolved",
    "have resolved",
    "had resolved",
    "were not",
    "was not",
    "is not",
    "are not",
    "not identified",
    "not noted",
    "not appreciated",
    "not found",
    "none",
    "- none",
    "not visualized",
    "not demonstrated",
    "did not occur",
    "denied",
    "declined",
    "not detected",
    "no longer present",
    "not evident",
    "not elicited",
    "within normal limits",
]
NEG_PSEUDO = [
    "no increase",
    "no suspicious change",
    "no significant change",
    "no change",
    "no interval change",
    "no definite change",
    "no significant interval change",
    "not extend",
    "not cause",
    "not drain",
    "not certain if",
    "not certain whether",
    "gram negative",
    "gram-negative",
    "without difficulty",
    "not necessarily",
    "not only",
    "not rule out",
    "not ruled out",
    "not been ruled out",
    "without further",
    "not clear",
    "not well",
    "not entirely",
    "not improve",
    "not resolve",
    "not responded",
    "not respond",
    "not tolerate",
    "not tolerated",
    "not able",
    "unable to",
    "no other complaints",
    "no complaints",
    "not been able",
    "negative for the",
    "not been",
    "not yet",
    "no reason",
    "not been admitted",
    "whether or not",
    "if not",
    "or not",
    "no matter",
    "not just",
    "not always",
    "not felt",
    "not thought",
    "not believe",
    "not believed",
    "nothing by mouth",
    "no known drug allergies other than",
]
NEG_TERMINATE = [
    "but",
    "however",
    "although",
    "though",
    "yet",
    "still",
    "aside from",
    "except",
    "apart from",
    "nevertheless",
    "which",
    "who",
    "whom",
    "because",
    "secondary to",
    "cause of",
    "cause for",
    "causes of",
    "source of",
    "source for",
    "reason for",
    "reasons for",
    "etiology of",
    "etiology for",
    "origin of",
    "as the cause of",
    "due to",
    "presents",
    "presented",
    "presenting",
    "complains",
    "complained",
    "complaining",
    "reports",
    "reported",
    "states",
    "stated",
    "found to have",
    "was found",
    "admitted",
    "noted to have",
    "now",
    "with the exception of",
    "other than",
    "and had",
    "and has",
    "and was",
    "and is",
    "and there",
    "there was",
    "there is",
    "there were",
    "significant for",
    "positive for",
    "consistent with",
    "showed",
    "shows",
    "revealed",
    "reveals",
    "demonstrated",
    "demonstrates",
    "develop",
    "developed",
    "had",
    "has",
    "and he",
    "and she",
    "and the patient",
    "and his",
    "and her",
    # "rule out" / "evaluate for" mark a hypothetical, not a negated, finding (Harkema 2009).
    "rule out",
    "r/o",
    "to exclude",
    "evaluate for",
    "evaluation for",
]

HIST_FORWARD = [
    "history of",
    "hx of",
    "h/o",
    "past history of",
    "past medical history of",
    "previous",
    "previously",
    "prior",
    "remote",
    "status post",
    "s/p",
    "in the past",
    "known history of",
    "past",
    "formerly",
    "former",
]
HIST_BACKWARD = ["in the past", "years ago", "months ago", "as a child", "previously", "in the remote past"]
HIST_PSEUDO = [
    "history and physical",
    "history taking",
    "poor history",
    "history and examination",
    "history of present illness",
    "social history",
    "family history of",
    "changes in",
    "prior to admission",
    "prior to discharge",
]
HIST_TERMINATE = [
    "presents",
    "presented",
    "presenting",
    "now",
    "currently",
    "today",
    "this admission",
    "admitted",
    "on admission",
    "but",
    "however",
    "which",
]

HYPO_FORWARD = [
    "if",
    "should",
    "should he",
    "should she",
    "should the patient",
    "in case",
    "in the event",
    "return for",
    "return if",
    "call for",
    "call if",
    "watch for",
    "monitor for",
    "to be evaluated for",
    "to rule out",
    "rule out",
    "r/o",
    "evaluate for",
    "evaluation for",
    "risk of",
    "risk for",
    "at risk for",
    "as needed for",
    "prn",
    "may develop",
    "could develop",
    "concern for",
    "possible",
    "possibility of",
    "suspected",
    "suspicious for",
    "questionable",
    "cannot rule out",
    "cannot exclude",
    "may",
    "might",
    "would",
    "to prevent",
    "prophylaxis",
    "prophylactic",
    "screening for",
    "screen for",
    "recommend",
    "recommended",
    "consider",
]
HYPO_BACKWARD = [
    "prophylaxis",
    "was considered",
    "is possible",
    "is suspected",
    "cannot be excluded",
    "cannot be ruled out",
    "should be ruled out",
    "to be ruled out",
    "if present",
]
HYPO_PSEUDO = ["if any", "if needed", "as if", "what if", "even if", "if ever", "if so", "if not"]
HYPO_TERMINATE = [
    "but",
    "however",
    "because",
    "since",
    "which",
    "who",
    "and has",
    "and had",
    "currently",
    "now",
]

FAM_FORWARD = [
    "family history of",
    "family history",
    "fh of",
    "fhx",
    "mother",
    "father",
    "sister",
    "brother",
    "sibling",
    "siblings",
    "aunt",
    "uncle",
    "grandmother",
    "grandfather",
    "cousin",
    "son",
    "daughter",
    "parent",
    "parents",
    "mother's",
    "father's",
    "maternal",
    "paternal",
    "relative",
    "relatives",
    "family member",
    "family members",
    "niece",
    "nephew",
]
FAM_BACKWARD = [
    "in his mother",
    "in her mother",
    "in his father",
    "in her father",
    "in the family",
    "in family",
    "runs in the family",
    "in his brother",
    "in her sister",
    "in his sister",
    "in her brother",
]
FAM_PSEUDO = [
    "by his mother",
    "by her mother",
    "by his father",
    "by her father",
    "with his mother",
    "with her mother",
    "with his wife",
    "with her husband",
    "lives with",
    "accompanied by",
    "per his",
    "per her",
    "mother-in-law",
    "father-in-law",
    "his daughter reports",
    "her daughter reports",
]
FAM_TERMINATE = [
    "patient",
    "the patient",
    "he",
    "she",
    "who",
    "which",
    "but",
    "however",
    "pt",
    "our patient",
    "the pt",
]

#: Per category: forward triggers, backward triggers, pseudo-triggers, terminations.
LEXICON: dict[Category, tuple[list[str], list[str], list[str], list[str]]] = {
    "negated": (NEG_FORWARD, NEG_BACKWARD, NEG_PSEUDO, NEG_TERMINATE),
    "historical": (HIST_FORWARD, HIST_BACKWARD, HIST_PSEUDO, HIST_TERMINATE),
    "hypothetical": (HYPO_FORWARD, HYPO_BACKWARD, HYPO_PSEUDO, HYPO_TERMINATE),
    "family": (FAM_FORWARD, FAM_BACKWARD, FAM_PSEUDO, FAM_TERMINATE),
}

#: Clause punctuation that ends a scope (";" and ":" start a new clause / list heading, ")"
#: closes a parenthetical aside).
_HARD_STOPS = re.compile(r"[;:)]|\.\s|\.$|\?\s|!\s")


@dataclass(frozen=True)
class Match:
    """One trigger found in a sentence (character offsets into the sentence)."""

    start: int
    end: int
    phrase: str
    category: Category
    kind: Literal["forward", "backward", "pseudo", "terminate"]


@dataclass
class ContextResult:
    """Context of one target: a flag per category and the triggers that set them."""

    negated: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    triggers: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "negated": self.negated,
            "historical": self.historical,
            "hypothetical": self.hypothetical,
            "family": self.family,
            "triggers": self.triggers,
        }


def _phrase_regex(phrase: str) -> str:
    words = [re.escape(w) for w in phrase.split()]
    body = r"\s+".join(words)
    left = r"(?<![\w'])" if phrase[0].isalnum() else ""
    right = r"(?![\w'])" if phrase[-1].isalnum() or phrase[-1] == "'" else ""
    return left + body + right


@lru_cache(maxsize=8)
def _compiled(category: Category) -> list[tuple[re.Pattern[str], str, str]]:
    fwd, bwd, pseudo, term = LEXICON[category]
    items: list[tuple[str, str]] = (
        [(p, "pseudo") for p in pseudo]
        + [(p, "forward") for p in fwd]
        + [(p, "backward") for p in bwd]
        + [(p, "terminate") for p in term]
    )
    # Longest phrase first so that "no evidence of" wins over "no"; on ties, pseudo first.
    order = {"pseudo": 0, "forward": 1, "backward": 2, "terminate": 3}
    items.sort(key=lambda x: (-len(x[0]), order[x[1]]))
    return [(re.compile(_phrase_regex(p), re.IGNORECASE), p, k) for p, k in items]


def triggers_find(sentence: str, category: Category) -> list[Match]:
    """All non-overlapping triggers of ``category`` in ``sentence``, longest match first.

    A pseudo-trigger claims its characters, so no shorter trigger inside it fires (NegEx).
    """
    taken = bytearray(len(sentence))
    out: list[Match] = []
    for rx, phrase, kind in _compiled(category):
        for m in rx.finditer(sentence):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            out.append(Match(m.start(), m.end(), phrase, category, kind))  # type: ignore[arg-type]
    out.sort(key=lambda t: t.start)
    return out


def _forward_scope_end(sentence: str, matches: list[Match], trig: Match, max_words: int | None) -> int:
    end = len(sentence)
    for t in matches:
        if t.start >= trig.end and t.kind == "terminate":
            end = min(end, t.start)
            break
    stop = _HARD_STOPS.search(sentence, trig.end)
    if stop:
        end = min(end, stop.start())
    if max_words is not None:
        words = list(re.finditer(r"\S+", sentence[trig.end : end]))
        if len(words) > max_words:
            end = trig.end + words[max_words - 1].end()
    return end


def _backward_scope_start(sentence: str, matches: list[Match], trig: Match, max_words: int | None) -> int:
    start = 0
    for t in matches:
        if t.end <= trig.start and t.kind == "terminate":
            start = max(start, t.end)
    for stop in _HARD_STOPS.finditer(sentence, 0, trig.start):
        start = max(start, stop.end())
    if max_words is not None:
        words = list(re.finditer(r"\S+", sentence[start : trig.start]))
        if len(words) > max_words:
            start = start + words[len(words) - max_words].start()
    return start


#: Default scope limits in words per category (None: to the end of the clause). NegEx used a
#: five-word window; ConText runs to the end of the sentence. Every scope here stops at a
#: termination term of its category or at clause punctuation; historical and hypothetical
#: scopes also stop after 8 words (their triggers, e.g. "if", "previous", are weaker cues).
MAX_WORDS: dict[Category, int | None] = {"negated": None, "historical": 8, "hypothetical": 8, "family": None}


def context_of(
    sentence: str,
    start: int,
    end: int,
    *,
    max_words: dict[Category, int | None] | None = None,
    categories: tuple[Category, ...] = CATEGORIES,
) -> ContextResult:
    """ConText flags of the target ``sentence[start:end]``.

    Parameters
    ----------
    sentence : str
        The sentence that holds the target.
    start, end : int
        Character offsets of the target in ``sentence``.
    max_words : dict, optional
        Scope limit in words per category (see :data:`MAX_WORDS`).
    categories : tuple of str
        Which properties to compute.

    Returns
    -------
    ContextResult

    Examples
    --------
    >>> s = "Denies chest pain but reports shortness of breath."
    >>> context_of(s, 7, 17).negated, context_of(s, 30, 49).negated
    (True, False)
    """
    limits = dict(MAX_WORDS)
    if max_words:
        limits.update(max_words)
    res = ContextResult()
    for cat in categories:
        matches = triggers_find(sentence, cat)
        fired: list[str] = []
        for t in matches:
            if t.kind == "forward" and t.start <= start and t.end <= end:
                # A trigger that opens the target itself ("No known drug allergies" as the
                # target) fires; otherwise its scope must reach the target.
                if t.end > start or _forward_scope_end(sentence, matches, t, limits[cat]) > start:
                    fired.append(t.phrase)
            elif (
                t.kind == "backward"
                and t.start >= end
                and _backward_scope_start(sentence, matches, t, limits[cat]) < end
            ):
                fired.append(t.phrase)
        if fired:
            setattr(res, cat, True)
            res.triggers[cat] = fired
    return res
