"""AAMI EC57 beat classes and the mapping of MIT-BIH beat annotation symbols onto them.

The mapping is the one of ANSI/AAMI EC57:1998/(R)2008, "Testing and reporting performance
results of cardiac rhythm and ST segment measurement algorithms", as used for the inter-patient
split by de Chazal P, O'Dwyer M, Reilly RB, "Automatic classification of heartbeats using ECG
morphology and heartbeat interval features", IEEE Trans Biomed Eng 51(7):1196-1206 (2004):

* N (normal / any beat not in S, V, F, Q): N, L, R, e, j
* S (supraventricular ectopic beat, SVEB): A, a, J, S
* V (ventricular ectopic beat, VEB): V, E
* F (fusion of ventricular and normal): F
* Q (unknown / paced / unclassifiable): /, f, Q

Every other MIT-BIH annotation symbol (rhythm changes ``+``, noise ``~``, comments ``"``,
signal quality ``|``, ``x`` non-conducted P wave, ``[``/``]``/``!`` flutter waves, ...) is not a
beat and is ignored.
"""

from __future__ import annotations

from typing import Final

#: The AAMI classes, in the order the classifier's output units use.
AAMI_CLASSES: Final[tuple[str, ...]] = ("N", "S", "V", "F", "Q")

#: MIT-BIH beat symbol -> AAMI class (AAMI EC57; de Chazal et al. 2004, Table I).
MITBIH_TO_AAMI: Final[dict[str, str]] = {
    "N": "N",
    "L": "N",
    "R": "N",
    "e": "N",
    "j": "N",
    "A": "S",
    "a": "S",
    "J": "S",
    "S": "S",
    "V": "V",
    "E": "V",
    "F": "F",
    "/": "Q",
    "f": "Q",
    "Q": "Q",
}


def aami_class(symbol: str) -> str | None:
    """Return the AAMI class of a MIT-BIH annotation symbol, or None for a non-beat annotation.

    Parameters
    ----------
    symbol : str
        One MIT-BIH annotation symbol (``wfdb.rdann(...).symbol`` element).

    Returns
    -------
    str or None
        One of ``"N", "S", "V", "F", "Q"``; None when the symbol is not a beat.

    Examples
    --------
    >>> aami_class("L"), aami_class("a"), aami_class("E"), aami_class("+")
    ('N', 'S', 'V', None)
    """
    return MITBIH_TO_AAMI.get(symbol)


def is_beat(symbol: str) -> bool:
    """True if ``symbol`` is a beat annotation under AAMI EC57."""
    return symbol in MITBIH_TO_AAMI
