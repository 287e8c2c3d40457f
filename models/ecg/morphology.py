"""Template matching for beat labels: a beat whose QRS has the patient's usual shape is not a VEB.

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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VERSION = "template-1"  #: named in BeatClassifier.version when the rule is applied
R_INDEX = 63  #: index of the R peak in a beat window (pipeline.PRE_S 0.35 s x MODEL_FS 180 Hz)
QRS_HALF = 18  #: QRS part compared: R +- 18 samples (0.10 s at 180 Hz)
MATCH_R = 0.95  #: Pearson correlation with the template above which a QRS "matches"


def template_matches(wave: np.ndarray) -> np.ndarray:
    """Which beats' QRS match the patient's running average beat in every lead.

    Parameters
    ----------
    wave : numpy.ndarray
        Stacked classifier inputs ``(n, WAVE_LEN, 2 * leads)`` (:func:`pipeline.stack_inputs`):
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
    w = np.asarray(wave, dtype=np.float64)[:, R_INDEX - QRS_HALF:R_INDEX + QRS_HALF + 1, :]
    beat, template = w[:, :, 0::2], w[:, :, 0::2] - w[:, :, 1::2]
    beat = beat - beat.mean(axis=1, keepdims=True)
    template = template - template.mean(axis=1, keepdims=True)
    den = np.sqrt((beat * beat).sum(axis=1) * (template * template).sum(axis=1))
    r = np.where(den > 0, (beat * template).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
    return np.all(r > MATCH_R, axis=1)


def morphology_labels(labels: Sequence[str], matches: Sequence[bool]) -> list[str]:
    """Labels with V replaced by N where the beat's QRS matches the patient's template.

    Examples
    --------
    >>> morphology_labels(["V", "V", "S", "N"], [True, False, True, True])
    ['N', 'V', 'S', 'N']
    """
    return ["N" if lab == "V" and m else lab for lab, m in zip(labels, matches, strict=True)]
