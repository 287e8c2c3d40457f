"""QRS morphology for beat labels: the template rule (a beat whose QRS has the patient's usual
shape is not a VEB) and the family vote (a beat's p(V) is its QRS morphology family's).

A ventricular ectopic beat starts in the ventricles and does not come down the His-Purkinje
system, so its QRS differs in shape from the patient's normally conducted complexes; QRS
morphology is what separates VEBs from normal beats in the inter-patient setting (de Chazal,
O'Dwyer, Reilly, IEEE TBME 51(7):1196-1206, 2004). Comparing each beat with the patient's own
dominant template is the classic way arrhythmia analysers use that, and false ventricular
alarms are the alarm-fatigue problem the AHA practice standards single out (Sandau et al.,
Circulation 136:e273-e344, 2017).

The beat pipeline already carries that template: channel 1 of each lead's beat window is the beat
minus the patient's running average beat (from the beats before it), so the template is channel 0
minus channel 1. :func:`template_matches` correlates the QRS part (R ± 0.1 s) of the beat
with that template in every lead the model sees; :func:`morphology_labels` turns a V label
into N when every lead matches above :data:`MATCH_R`.

Measured (4-fold leave-records-out CV over DS1, the shipped two-lead ensemble): false VEBs
1,112 -> 872, true VEBs lost 10 of 3,417 (VEB +P 75.5 -> 79.6, Se 90.6 -> 90.3); a replicate
ensemble of five other seeds: false VEBs 1,312 -> 1,032, 9 true VEBs lost. The threshold 0.95 was
chosen among 0.90-0.99 on that CV (the card lists each).

The family vote (:class:`Families`, :func:`family_vote`, :func:`vote_proba`; below) groups the
patient's beats by QRS shape as they arrive and gives each beat its family's mean p(V).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

VERSION = "template-1"  #: named in BeatClassifier.version when the rule is applied
R_INDEX = 63  #: index of the R peak in a beat window (beats.PRE_S 0.35 s x MODEL_FS 180 Hz)
QRS_HALF = 18  #: QRS part compared: R +- 18 samples (0.10 s at 180 Hz)
MATCH_R = 0.95  #: Pearson correlation with the template above which a QRS "matches"
_QRS = slice(R_INDEX - QRS_HALF, R_INDEX + QRS_HALF + 1)  #: the QRS samples of a beat window


def template_matches(wave: np.ndarray) -> np.ndarray:
    """Which beats' QRS match the patient's running average beat in every lead.

    Parameters
    ----------
    wave : numpy.ndarray
        Stacked classifier inputs ``(n, WAVE_LEN, 2 * leads)`` (:func:`models.ecg.beats.stack_inputs`):
        per lead, the beat and the beat minus the template.

    Returns
    -------
    numpy.ndarray
        bool ``(n,)``: the QRS (R +- :data:`QRS_HALF` samples) of every lead correlates above
        :data:`MATCH_R` with that lead's template.

    Examples
    --------
    >>> t = np.arange(144) - R_INDEX
    >>> narrow, wide = np.exp(-t ** 2 / 8.0), np.exp(-t ** 2 / 120.0)
    >>> same = np.stack([narrow, 0.05 * narrow], axis=1)          # beat - template is small
    >>> other = np.stack([narrow, narrow - wide], axis=1)         # the template is a wide beat
    >>> template_matches(np.stack([same, other])).tolist()
    [True, False]
    """
    w = np.asarray(wave, dtype=np.float64)[:, _QRS, :]
    beat, template = w[:, :, 0::2], w[:, :, 0::2] - w[:, :, 1::2]
    beat = beat - beat.mean(axis=1, keepdims=True)
    template = template - template.mean(axis=1, keepdims=True)
    den = np.sqrt((beat * beat).sum(axis=1) * (template * template).sum(axis=1))
    r = np.where(den > 0, (beat * template).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
    matches: np.ndarray = np.all(r > MATCH_R, axis=1)
    return matches


def morphology_labels(labels: Sequence[str], matches: Sequence[bool]) -> list[str]:
    """Labels with V replaced by N where the beat's QRS matches the patient's template.

    Examples
    --------
    >>> morphology_labels(["V", "V", "S", "N"], [True, False, True, True])
    ['N', 'V', 'S', 'N']
    """
    return ["N" if lab == "V" and m else lab for lab, m in zip(labels, matches, strict=True)]


# ---------------------------------------------------------------------------------------------
# Morphology families: the patient's beats grouped by QRS shape, labelled V by their members' vote
#
# Holter and arrhythmia analysers group a patient's beats into morphology families (templates)
# and label a family as a whole: the analyst, or the analyser, decides once whether a family is
# normal or ventricular, which is what makes beat labels consistent within a patient (the
# template review of Holter systems; for the inter-patient setting, the patient-adapted labelling
# of beat clusters: Llamedo M, Martinez JP. An automatic patient-adapted ECG heartbeat classifier
# allowing expert assistance. IEEE TBME 59(8):2312-2320, 2012). Here the family's
# label comes from the classifier itself: a beat's p(V) is replaced by the mean p(V) of its family
# so far (:func:`family_vote`), so an isolated noisy beat in a family of normal beats is not a VEB,
# and a VEB the network doubts is one when its family is ventricular.

FAMILY_VERSION = "family-1"  #: named in BeatClassifier.version when the vote is applied
FamilyVotes = dict[str, list[float]]  #: a patient's family votes: family id -> [mean p(V), members]
JOIN_R = 0.90  #: a QRS joins its best-matching family when the correlation is above this
FAMILY_ALPHA = 0.1  #: weight of a new member in its family's template
MAX_FAMILIES = 16  #: families kept per patient (the one with fewest members makes room)
VOTE_MIN_ALPHA = 0.01  #: family p(V): mean of its first 100 members, then exponential (~100 beats)
CERTAIN_V = 0.99  #: the vote never lowers a beat's own p(V) at or above this
REST_MIN = 0.05  #: other classes below this share of a beat: what the vote takes from V goes to N


def qrs_part(wave: np.ndarray) -> np.ndarray:
    """The QRS (R +- :data:`QRS_HALF` samples) of a beat window's first channel."""
    return np.asarray(wave, dtype=np.float64)[_QRS, 0]


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    n = float(np.linalg.norm(x))
    return x / n if n > 0 else x


class Families:
    """One patient's QRS morphology families (label-free; the beat stream assigns each beat).

    Examples
    --------
    >>> t = np.arange(2 * QRS_HALF + 1) - QRS_HALF
    >>> narrow, wide = np.exp(-t ** 2 / 8.0), np.exp(-t ** 2 / 120.0) - 0.5 * np.exp(-t ** 2 / 8.0)
    >>> f = Families()
    >>> [f.assign(q) for q in (narrow, narrow * 2, wide, narrow + 0.01 * t)]
    [0, 0, 1, 0]
    """

    def __init__(self) -> None:
        self.templates: list[np.ndarray] = []
        self.ids: list[int] = []
        self.counts: list[int] = []
        self.next_id = 0

    def assign(self, qrs: np.ndarray) -> int:
        """The id of the family ``qrs`` belongs to (a new family when none matches above
        :data:`JOIN_R`); the family's template moves towards it."""
        b = _unit(np.asarray(qrs, dtype=np.float64))
        if self.templates:
            r = np.array([float(t @ b) for t in self.templates])
            k = int(np.argmax(r))
            if r[k] > JOIN_R:
                self.templates[k] = _unit((1 - FAMILY_ALPHA) * self.templates[k] + FAMILY_ALPHA * b)
                self.counts[k] += 1
                return self.ids[k]
        if len(self.templates) >= MAX_FAMILIES:
            k = int(np.argmin(self.counts))
            for lst in (self.templates, self.ids, self.counts):
                del lst[k]
        self.templates.append(b)
        self.ids.append(self.next_id)
        self.counts.append(1)
        self.next_id += 1
        return self.next_id - 1

    def to_state(self) -> dict[str, Any]:
        """Plain JSON-serialisable state."""
        return {
            "templates": [t.tolist() for t in self.templates],
            "ids": list(self.ids),
            "counts": list(self.counts),
            "next_id": self.next_id,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any] | None) -> Families:
        """Rebuild from :meth:`to_state` (None: no families yet)."""
        f = cls()
        if d:
            f.templates = [np.asarray(t, dtype=np.float64) for t in d["templates"]]
            f.ids, f.counts, f.next_id = list(d["ids"]), list(d["counts"]), int(d["next_id"])
        return f


def family_vote(votes: FamilyVotes, family: int, p_v: float) -> float:
    """Add a beat's p(V) to its family's running mean in ``votes`` (a patient's plain JSON dict
    ``{family id: [mean p(V), members]}``, updated in place) and return the new mean.

    The mean is the plain mean over the family's first ``1 / VOTE_MIN_ALPHA`` members and
    exponential after that, so a family can change its label when its members change. The dict
    keeps the ``2 * MAX_FAMILIES`` most recently voted families.

    Examples
    --------
    >>> v = {}
    >>> [round(family_vote(v, 0, p), 3) for p in (0.9, 0.3, 0.3)]
    [0.9, 0.6, 0.5]
    >>> v
    {'0': [0.5, 3]}
    """
    key = str(family)
    mean, n = votes.pop(key, (0.0, 0))
    a = max(VOTE_MIN_ALPHA, 1.0 / (n + 1))
    mean = (1 - a) * mean + a * float(p_v)
    votes[key] = [mean, int(n) + 1]  # re-inserted last: dict order is least recently voted first
    while len(votes) > 2 * MAX_FAMILIES:
        del votes[next(iter(votes))]
    return mean


def vote_proba(proba: np.ndarray, family_pv: np.ndarray, v_index: int = 2) -> np.ndarray:
    """Probabilities with each beat's p(V) replaced by its family's mean p(V) and the other
    classes rescaled to keep their proportions (rows still sum to 1).

    Two guards: the vote never lowers a p(V) of at least :data:`CERTAIN_V` (a beat the network
    is certain of stays V whatever its family says, so a VT run of such beats is never broken
    by the vote), and when the other classes hold less than :data:`REST_MIN` of the beat's
    probability their proportions are noise, so what the vote takes from V goes to N.

    Examples
    --------
    >>> vote_proba(np.array([[0.2, 0.2, 0.6, 0.0, 0.0]]), np.array([0.2])).round(3).tolist()
    [[0.4, 0.4, 0.2, 0.0, 0.0]]
    >>> vote_proba(np.array([[0.0, 0.0, 0.995, 0.0, 0.005]]), np.array([0.2])).round(3).tolist()
    [[0.0, 0.0, 0.995, 0.0, 0.005]]
    """
    p = np.asarray(proba, dtype=np.float64).copy()
    own = p[:, v_index]
    fv = np.asarray(family_pv, dtype=np.float64)
    fv = np.where(own >= CERTAIN_V, np.maximum(fv, own), fv)
    rest = 1.0 - own
    known = (rest >= REST_MIN) | (fv >= own)  # rest goes to N only where V is voted down
    p *= np.where(known, (1.0 - fv) / np.where(rest > 0, rest, 1.0), 0.0)[:, None]
    p[:, 0] += np.where(known, 0.0, 1.0 - fv)
    p[:, v_index] = fv
    return p
