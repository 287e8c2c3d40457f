"""The alarm engine: runs the rules of :mod:`models.ecg.alarms.rules` over one chunk, in order,
and decides when rhythm analysis is suspended. Pure functions over the JSON rule state."""

from __future__ import annotations

from collections.abc import Sequence

from models.ecg.alarms.rules import (
    Quality,
    afib_rule,
    asystole_rule,
    brady_rule,
    feed_resumed_rule,
    feed_silent,
    feed_stopped_rule,
    gap_end,
    leads_off_rule,
    noise_rule,
    pause_rule,
    pvc_burden_rule,
    signal_unanalysable,
    tachy_rule,
    vf_rule,
    vt_rule,
)
from models.ecg.alarms.state import AlarmChange, Emitter, RuleState, rules_init
from models.ecg.measures import hr_from_beats
from models.ecg.rule_config import DEFAULT_RULES, RuleConfig

#: sustain timers measured on the signal, which run on while beat analysis is suspended
_SIGNAL_TIMERS = ("noise", "vf", "vf_off")


def rules_step(
    state: RuleState,
    beats: Sequence[tuple[float, str]],
    *,
    start_t: float,
    end_t: float,
    analysed_t: float | None,
    quality: Quality,
    last_qrs_t: float | None = None,
    cfg: RuleConfig = DEFAULT_RULES,
) -> list[AlarmChange]:
    """Advance the rules by one chunk.

    Parameters
    ----------
    state : RuleState
        From :func:`rules_init`; updated in place.
    beats : list of (t, label)
        Beats confirmed by this chunk (device time POSIX s, AAMI class), oldest first.
    start_t, end_t : float
        Device time span of the chunk.
    analysed_t : float or None
        Device time up to which beat detection is complete (``end_t`` minus the detector's
        emission delay); None while the detector is still learning its thresholds.
    quality : mapping
        :func:`models.ecg.signal_quality.ecg_signal_quality` of the rolling signal ending with
        this chunk, with the :func:`models.ecg.vf.vf_measures` of the same signal (without them,
        no VF alarm).
    last_qrs_t : float, optional
        Device time of the last QRS the detector has confirmed, even if that beat is not yet
        classified (the classifier waits for the next beat's RR); pause and asystole are
        measured from it, so they are not delayed by classification.
    cfg : RuleConfig

    Returns
    -------
    list of AlarmChange
        The changes, in time order per rule.

    Examples
    --------
    >>> st = rules_init()
    >>> q = {"flat": False, "noisy": False, "p2p_uv": 1500.0, "hf_ratio": 0.02}
    >>> vt = [(10.0 + 0.35 * i, "V") for i in range(4)]
    >>> [c.source for c in rules_step(st, vt, start_t=10, end_t=11.5, analysed_t=11.2, quality=q)]
    ['ecg.vtach']
    """
    em = Emitter(state)
    # technical alarms, then VF from the signal whatever the noise measures say
    leads_off_rule(em, quality, end_t, cfg)
    noise_rule(state, em, quality, start_t, end_t, cfg)
    vf_rule(state, em, start_t, end_t, quality, cfg)
    if quality.get("flat") or signal_unanalysable(quality):
        _suspend(state, end_t, cfg)
        return em.out
    _resume(state, start_t)
    from_t = state["from_t"]
    for t, label in beats:
        if from_t is not None and t < from_t:
            continue
        _on_beat(state, em, float(t), str(label), cfg)
    _ongoing_gap(state, em, analysed_t, last_qrs_t, cfg)
    _trim(state, end_t, cfg)
    return em.out


def _suspend(state: RuleState, end_t: float, cfg: RuleConfig) -> None:
    """No rhythm analysis on a flat or unanalysable signal; continuity restarts when it resumes
    (IEC 60601-2-27: the monitor indicates it cannot analyse instead of alarming on it)."""
    state["run"] = []
    state["since"] = {k: v for k, v in state["since"].items() if k in _SIGNAL_TIMERS}
    state["from_t"] = None
    state["suspended"] = True
    _trim(state, end_t, cfg)


def _resume(state: RuleState, start_t: float) -> None:
    """Start a new continuous segment after a suspension or a restart."""
    if state.get("suspended") or state["from_t"] is None:
        state["suspended"] = False
        state["seg"] += 1
        state["from_t"] = start_t
        state["last_beat_t"] = None


def _on_beat(state: RuleState, em: Emitter, t: float, label: str, cfg: RuleConfig) -> None:
    """The beat rules for one classified beat, in order."""
    _gap_ended_by(state, em, t, cfg)
    state["beats"].append([t, label, state["seg"]])
    state["last_beat_t"] = t
    vt_rule(state, em, t, label, cfg)
    hr = hr_from_beats(state["beats"], t, cfg)
    if hr is not None and not em.is_active("ecg.vfib"):  # chained under VF (see gap_rules)
        brady_rule(state, em, t, hr, cfg)
        tachy_rule(state, em, t, hr, cfg)
    afib_rule(state, em, t, hr, cfg)
    pvc_burden_rule(state, em, t, cfg)


def _same_t(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 1e-3


def _last_known(*times: float | None) -> float | None:
    known = [v for v in times if v is not None]
    return max(known) if known else None


def _gap_ended_by(state: RuleState, em: Emitter, t: float, cfg: RuleConfig) -> None:
    """A pause / asystole that ended with the beat at ``t`` before the horizon check saw it
    (e.g. within one chunk): raised and ended retrospectively."""
    ref = _last_known(state["last_beat_t"], state["from_t"])
    if ref is not None and t - ref >= cfg.pause_s and not _same_t(state.get("gap_ref"), ref):
        gap_rules(state, em, ref, t, cfg)
        gap_end(state, em, t)


def _ongoing_gap(
    state: RuleState, em: Emitter, analysed_t: float | None, last_qrs_t: float | None, cfg: RuleConfig
) -> None:
    """Ongoing pause / asystole up to the analysis horizon, from the last QRS detected."""
    from_t = state["from_t"]
    qrs_t = last_qrs_t if last_qrs_t is not None and from_t is not None and last_qrs_t >= from_t else None
    ref = _last_known(state["last_beat_t"], from_t, qrs_t)
    if ref is None:
        return
    gap_ref = state.get("gap_ref")
    if gap_ref is not None and ref > gap_ref + 1e-3:
        gap_end(state, em, ref)
    if analysed_t is not None and analysed_t > ref:
        gap_rules(state, em, ref, analysed_t, cfg)


def gap_rules(state: RuleState, em: Emitter, ref: float, t: float, cfg: RuleConfig) -> None:
    """Pause / asystole when nothing has been detected from ``ref`` up to ``t``.

    Not while a VF alarm is active: in fibrillation the detector finds waves sporadically, and
    pause, asystole and rate alarms from them would only bury the lethal one (monitors chain
    lower rhythm alarms under VF; alarm fatigue, [AHA2017]).
    """
    if em.is_active("ecg.vfib"):
        return
    pause_rule(state, em, ref, t, cfg)
    asystole_rule(state, em, ref, t, cfg)


def _trim(state: RuleState, t: float, cfg: RuleConfig) -> None:
    beats = state["beats"]
    cut = t - cfg.keep_beats_s
    i = 0
    while i < len(beats) and beats[i][0] < cut:
        i += 1
    i = max(i, len(beats) - cfg.keep_beats_max)
    if i > 0:
        del beats[:i]


def rules_restart(state: RuleState) -> None:
    """Break signal continuity (seq gap, device restart): no RR interval spans the break."""
    state["from_t"] = None
    state["run"] = []
    state["since"] = {k: v for k, v in state["since"].items() if k == "noise"}


def feed_check(
    state: RuleState,
    *,
    last_rx_wall: float,
    now_wall: float,
    last_end_t: float,
    cfg: RuleConfig = DEFAULT_RULES,
) -> list[AlarmChange]:
    """Feed-stopped technical alarm, evaluated by the agent's timer on the wall clock
    (:func:`models.ecg.alarms.rules.feed_stopped_rule`).

    Parameters
    ----------
    last_rx_wall : float
        Wall time (POSIX s) the last chunk was received.
    now_wall : float
        Wall time now.
    last_end_t : float
        Device time of the end of the last chunk; the alarm time is that plus the silence.
    """
    em = Emitter(state)
    feed_stopped_rule(em, last_rx_wall=last_rx_wall, now_wall=now_wall, last_end_t=last_end_t, cfg=cfg)
    return em.out


def feed_resumed(state: RuleState, t: float) -> list[AlarmChange]:
    """Clear the feed-stopped alarm when a chunk arrives."""
    em = Emitter(state)
    feed_resumed_rule(em, t)
    return em.out


__all__ = [
    "feed_check",
    "feed_resumed",
    "feed_silent",
    "gap_rules",
    "rules_init",
    "rules_restart",
    "rules_step",
]
