"""The ECG alarm rules, one function per alarm condition, each with its source.

Every rule reads the rule state and the current evidence (a beat, the signal's measures, a gap
or the wall clock) and raises, escalates or clears its one condition through the
:class:`~models.ecg.alarms.state.Emitter`. The order the rules run in, and when rhythm analysis
is suspended, is :mod:`models.ecg.alarms.engine`. Thresholds: :class:`models.ecg.rule_config.RuleConfig`;
the references in brackets are listed in :mod:`models.ecg.alarms`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from models.ecg import rhythm
from models.ecg.alarms.state import Emitter, Evidence, RuleState, beats_evidence, held, iso
from models.ecg.measures import BeatEntry, af_rr_intervals, af_window_start, flutter_lattice, nn_dominant
from models.ecg.rule_config import RuleConfig

#: Signal measures of the rolling signal: :func:`models.ecg.signal_quality.ecg_signal_quality`
#: merged with :func:`models.ecg.vf.vf_measures` (missing keys read as false / absent).
Quality = Mapping[str, float | bool]


def _quality_evidence(quality: Quality) -> Evidence:
    return {k: quality.get(k) for k in ("p2p_uv", "hf_ratio", "slope_ratio")}


def signal_unanalysable(quality: Quality) -> bool:
    """Unanalysable noise (40-150 Hz power), unless the VF measures are positive: a VF / flutter
    waveform is the patient, not noise."""
    return bool(quality.get("noisy")) and not bool(quality.get("vf"))


def signal_noisy(quality: Quality) -> bool:
    """Unanalysable or in-band noise, unless the VF measures are positive."""
    return bool(quality.get("noisy") or quality.get("noisy_inband")) and not bool(quality.get("vf"))


# ------------------------------------------------------------------------------ technical
def leads_off_rule(em: Emitter, quality: Quality, end_t: float, cfg: RuleConfig) -> None:
    """``ecg.leads_off`` (medium, technical): flat line, peak-to-peak < ``cfg.flat_p2p_uv`` over
    the last ``cfg.flat_window_s``; clears when the signal is back.

    Source: IEC 60601-2-27 requires a technical alarm for leads off / a disconnected electrode.
    """
    q_ev = _quality_evidence(quality)
    if quality.get("flat"):
        em.raise_(
            "ecg.leads_off",
            "medium",
            end_t,
            f"leads off / flat line: {quality.get('p2p_uv')} uV peak-to-peak over {cfg.flat_window_s:.0f} s",
            {
                **q_ev,
                "rule": f"peak-to-peak < {cfg.flat_p2p_uv:.0f} uV over "
                f"{cfg.flat_window_s:.0f} s (IEC 60601-2-27 leads-off)",
            },
        )
    elif em.is_active("ecg.leads_off"):
        em.clear("ecg.leads_off", end_t, "ECG signal back", q_ev)


def noise_rule(
    state: RuleState, em: Emitter, quality: Quality, start_t: float, end_t: float, cfg: RuleConfig
) -> None:
    """``ecg.noise`` (technical): noisy for ``cfg.noise_sustain_s``; low when the noise is in the
    ECG band (analysis continues, its alarms may be false), medium when the signal is
    unanalysable (40-150 Hz power); clears after ``cfg.noise_clear_s`` without noise.

    Sources: IEC 60601-2-27 (the monitor must indicate when it cannot analyse the ECG); the
    in-band measure after Pan & Tompkins 1985 [PT1985] and Li, Mark & Clifford 2008 [Li2008].
    """
    if signal_noisy(quality):
        _noise_on(state, em, quality, start_t, end_t, cfg)
    else:
        _noise_off(state, em, quality, start_t, end_t, cfg)


def _noise_on(
    state: RuleState, em: Emitter, quality: Quality, start_t: float, end_t: float, cfg: RuleConfig
) -> None:
    state["clean_since"] = None
    state["since"].setdefault("noise", start_t)
    if end_t - state["since"]["noise"] < cfg.noise_sustain_s:
        return
    # in-band noise is advisory (low); unanalysable escalates an open alarm to medium
    # (re-emitted with the new message) and it stays medium until it clears, so a signal
    # near the 40-150 Hz limit does not flap between the two
    unanalysable = signal_unanalysable(quality)
    medium = unanalysable or em.priority("ecg.noise") == "medium"
    em.raise_(
        "ecg.noise",
        "medium" if medium else "low",
        end_t,
        "ECG unanalysable: noise"
        if unanalysable
        else "ECG noisy: analysis continues, its alarms may be false",
        {
            **_quality_evidence(quality),
            "rule": f"HF/LF power > {cfg.noise_hf_ratio}, or in-band median "
            f"slope > {cfg.noise_slope_ratio} x QRS slope, for "
            f"{cfg.noise_sustain_s:.0f} s",
        },
    )


def _noise_off(
    state: RuleState, em: Emitter, quality: Quality, start_t: float, end_t: float, cfg: RuleConfig
) -> None:
    state["since"].pop("noise", None)
    clean_since = state["clean_since"]
    if clean_since is None:
        clean_since = state["clean_since"] = start_t
    if em.is_active("ecg.noise") and end_t - clean_since >= cfg.noise_clear_s:
        em.clear("ecg.noise", end_t, "ECG analysable again", _quality_evidence(quality))


def feed_silent(last_rx_wall: float, now_wall: float, cfg: RuleConfig) -> bool:
    """Whether no chunk has been received for ``cfg.feed_timeout_s`` (wall clock): the condition
    of :func:`feed_stopped_rule`, which changes nothing before it holds.

    >>> from models.ecg.rule_config import DEFAULT_RULES as cfg
    >>> feed_silent(100.0, 100.0 + cfg.feed_timeout_s, cfg), feed_silent(100.0, 109.9, cfg)
    (True, False)
    """
    return now_wall - last_rx_wall >= cfg.feed_timeout_s


def feed_stopped_rule(
    em: Emitter, *, last_rx_wall: float, now_wall: float, last_end_t: float, cfg: RuleConfig
) -> None:
    """``ecg.feed_stopped`` (medium, technical): no chunk received for ``cfg.feed_timeout_s``
    (wall clock); the alarm time is the last sample's device time plus the silence.

    Source: IEC 60601-2-27 / IEC 60601-1-8 technical alarm conditions (loss of the ECG signal
    must be indicated, not read as a quiet patient).
    """
    silent = now_wall - last_rx_wall
    if feed_silent(last_rx_wall, now_wall, cfg):
        em.raise_(
            "ecg.feed_stopped",
            "medium",
            last_end_t + silent,
            f"no ECG received for {silent:.0f} s",
            {
                "silent_s": round(silent, 1),
                "last_sample": iso(last_end_t),
                "rule": f"no chunk for >= {cfg.feed_timeout_s:.0f} s",
            },
        )


def feed_resumed_rule(em: Emitter, t: float) -> None:
    """``ecg.feed_stopped`` ends when a chunk arrives (its first sample at device time ``t``)."""
    if em.is_active("ecg.feed_stopped"):
        em.clear("ecg.feed_stopped", t, "ECG feed resumed")


# ------------------------------------------------------------------------------ from the signal
def vf_rule(
    state: RuleState, em: Emitter, start_t: float, end_t: float, quality: Quality, cfg: RuleConfig
) -> None:
    """``ecg.vfib`` (high, latched): the VF measures (:func:`models.ecg.vf.vf_measures`) positive
    for ``cfg.vf_sustain_s``; clears after ``cfg.vf_clear_s`` without. Runs whatever the noise
    measures say (coarse VF looks like in-band noise).

    Sources: Kuo & Dillman 1978 (VF-filter leakage) [KD1978]; Barro et al. 1989 (spectral
    concentration) [Barro1989], as compared in Amann et al. 2005 [Amann2005]; IEC 60601-2-27
    (ventricular fibrillation is a high-priority alarm condition).
    """
    vf = bool(quality.get("vf"))
    chunk_s = end_t - start_t
    on_s = held(state, "vf", vf, start_t) + chunk_s  # VF measures true since ... to end_t
    off_s = held(state, "vf_off", not vf, start_t) + chunk_s
    ev = {k: quality.get(k) for k in ("vf_leak", "vf_conc", "vf_freq_hz")}
    if vf and on_s >= cfg.vf_sustain_s:
        rate = 60.0 * float(quality.get("vf_freq_hz") or 0.0)
        em.raise_(
            "ecg.vfib",
            "high",
            end_t,
            f"ventricular fibrillation / flutter: {rate:.0f} waves/min, no organised QRS",
            {
                **ev,
                "beats": beats_evidence(state["beats"], end_t - 8.0, end_t),
                "rule": f"VF-filter leakage < {cfg.vf_leak_max} and spectral concentration "
                f"> {cfg.vf_conc_min} at >= {60 * cfg.vf_freq_min_hz:.0f}/min over "
                f"{cfg.vf_window_s:.0f} s, for {cfg.vf_sustain_s:.0f} s (Kuo & "
                "Dillman 1978; Barro 1989)",
            },
        )
    elif not vf and em.is_active("ecg.vfib") and off_s >= cfg.vf_clear_s:
        em.clear("ecg.vfib", end_t, "VF waveform no longer present", ev)


# ------------------------------------------------------------------------------ from gaps
def _gap_evidence(state: RuleState, ref: float, t: float) -> Evidence:
    return {
        "no_beat_since": iso(ref),
        "pause_s": round(t - ref, 2),
        "beats": beats_evidence(state["beats"], ref - 6.0, ref),
    }


def pause_rule(state: RuleState, em: Emitter, ref: float, t: float, cfg: RuleConfig) -> None:
    """``ecg.pause`` (medium): no QRS from ``ref`` to ``t`` for at least ``cfg.pause_s``, raised at
    ``ref + pause_s``; ends with the next QRS (:func:`gap_end`).

    Source: AHA 2017 practice standards (pauses > 3 s are clinically significant) [AHA2017].
    """
    gap = t - ref
    if gap >= cfg.pause_s:
        state["gap_ref"] = ref
        em.raise_(
            "ecg.pause",
            "medium",
            ref + cfg.pause_s,
            f"pause: no QRS for {gap:.1f} s",
            {**_gap_evidence(state, ref, t), "rule": f"no beat for >= {cfg.pause_s:.0f} s (AHA 2017)"},
        )


def asystole_rule(state: RuleState, em: Emitter, ref: float, t: float, cfg: RuleConfig) -> None:
    """``ecg.asystole`` (high, latched): no QRS from ``ref`` to ``t`` for at least
    ``cfg.asystole_s``, raised at ``ref + asystole_s``; ends with the next QRS (:func:`gap_end`).

    Sources: IEC 60601-2-27 and ANSI/AAMI EC13 (asystole must alarm; EC13's asystole alarm test);
    4 s without a QRS is the usual monitor default [IEC][EC13].
    """
    gap = t - ref
    if gap >= cfg.asystole_s:
        em.raise_(
            "ecg.asystole",
            "high",
            ref + cfg.asystole_s,
            f"asystole: no QRS for {gap:.1f} s",
            {
                **_gap_evidence(state, ref, t),
                "rule": f"no beat for >= {cfg.asystole_s:.0f} s (IEC 60601-2-27; AAMI EC13)",
            },
        )


def gap_end(state: RuleState, em: Emitter, t: float) -> None:
    """End pause and asystole: a QRS was detected at ``t``."""
    ref = state.get("gap_ref")
    for src in ("ecg.pause", "ecg.asystole"):
        if em.is_active(src):
            em.clear(
                src,
                t,
                f"{src.split('.')[1]} ended: QRS at {iso(t)}",
                {"pause_s": round(t - ref, 2) if ref is not None else None},
            )


# ------------------------------------------------------------------------------ from beats
def vt_rule(state: RuleState, em: Emitter, t: float, label: str, cfg: RuleConfig) -> None:
    """``ecg.vtach`` (high, latched): a run of >= ``cfg.vt_min_beats`` consecutive ventricular
    beats at a rate >= ``cfg.vt_rate_bpm``; ends with the first beat that is not ventricular.

    A beat is ventricular when labelled V; inside a run that already holds a V beat, a beat
    labelled with one of ``cfg.vt_run_extra`` (F: fusion of a ventricular and a conducted beat;
    Q: unclassifiable) continues the run instead of breaking it, as long as at least
    ``cfg.vt_min_v`` of the run's beats are V. In a multiform run the classifier is least sure of
    the odd-shaped beats, and a fusion or unclassifiable label is no evidence of a conducted
    (supraventricular) beat; an N or S label still ends the run. The rate is the run's mean:
    60 x (beats - 1) / (last - first beat).

    Not raised while ``ecg.vfib`` is on: fibrillation waves detected as beats are not a VT
    (monitors chain the lesser ventricular alarm under VF, as the rate and pause alarms are
    here; [AHA2017] on alarm fatigue). An active VT alarm is left to end as usual.

    Sources: AHA 2017 [AHA2017] and ANSI/AAMI EC57 [EC57] (VT: a run of >= 3 ventricular beats
    at > 100 bpm); IEC 60601-2-27 (ventricular tachycardia is a high-priority alarm condition;
    AAMI EC13 tests VT alarms on runs of ventricular complexes at given rates) [IEC][EC13].
    """
    run = state["run"]
    n_v = sum(1 for b in run if b[1] == "V")
    ventricular = label == "V" or (label in cfg.vt_run_extra and n_v >= 1)
    if not ventricular:
        if em.is_active("ecg.vtach"):
            n = len(run)
            em.clear(
                "ecg.vtach",
                t,
                f"VT run ended after {n} ventricular beats",
                {"run_beats": n, "beats": beats_evidence(state["beats"], run[0][0] if run else t, t)},
            )
        run.clear()
        return
    run.append([t, label])
    n = len(run)
    n_v += label == "V"
    if n < cfg.vt_min_beats or n_v < cfg.vt_min_v or em.is_active("ecg.vfib"):
        return
    rate = 60.0 * (n - 1) / (run[-1][0] - run[0][0]) if run[-1][0] > run[0][0] else 0.0
    if rate >= cfg.vt_rate_bpm and not em.is_active("ecg.vtach"):
        em.raise_(
            "ecg.vtach",
            "high",
            t,
            f"ventricular tachycardia: {n} consecutive ventricular beats at {rate:.0f} bpm",
            {
                "run_beats": n,
                "run_v_beats": n_v,
                "rate_bpm": round(rate, 1),
                "beats": beats_evidence(state["beats"], run[0][0] - 3.0, t),
                "rule": f">= {cfg.vt_min_beats} consecutive ventricular beats (V; "
                f"{'/'.join(cfg.vt_run_extra) or 'nothing else'} inside a run, >= {cfg.vt_min_v} V) "
                f"at >= {cfg.vt_rate_bpm:.0f} bpm (AHA 2017; AAMI EC57)",
            },
        )


class _RateLimit(NamedTuple):
    source: str
    name: str
    low: bool  # True: alarm below the limit (brady), False: above it (tachy)
    limit_bpm: float
    extreme_bpm: float


def brady_rule(state: RuleState, em: Emitter, t: float, hr: float, cfg: RuleConfig) -> None:
    """``ecg.brady``: HR (:func:`models.ecg.measures.hr_from_beats`) < ``cfg.brady_bpm`` for
    ``cfg.rate_sustain_s`` (medium; high below ``cfg.brady_extreme_bpm``); clears at
    ``brady_bpm + cfg.rate_hysteresis_bpm``.

    Sources: IEC 60601-2-27 and ANSI/AAMI EC13 (adjustable low HR alarm limit; EC13 HR
    averaging) [IEC][EC13].
    """
    _rate_rule(
        state,
        em,
        t,
        hr,
        cfg,
        _RateLimit("ecg.brady", "bradycardia", True, cfg.brady_bpm, cfg.brady_extreme_bpm),
    )


def tachy_rule(state: RuleState, em: Emitter, t: float, hr: float, cfg: RuleConfig) -> None:
    """``ecg.tachy``: HR > ``cfg.tachy_bpm`` for ``cfg.rate_sustain_s`` (medium; high above
    ``cfg.tachy_extreme_bpm``); clears at ``tachy_bpm - cfg.rate_hysteresis_bpm``.

    Sources: IEC 60601-2-27 and ANSI/AAMI EC13 (adjustable high HR alarm limit; EC13's
    tachycardia alarm tests) [IEC][EC13].
    """
    _rate_rule(
        state,
        em,
        t,
        hr,
        cfg,
        _RateLimit("ecg.tachy", "tachycardia", False, cfg.tachy_bpm, cfg.tachy_extreme_bpm),
    )


def _rate_rule(state: RuleState, em: Emitter, t: float, hr: float, cfg: RuleConfig, lim: _RateLimit) -> None:
    src, low = lim.source, lim.low
    beyond = hr < lim.limit_bpm if low else hr > lim.limit_bpm
    back = (
        hr >= lim.limit_bpm + cfg.rate_hysteresis_bpm
        if low
        else hr <= lim.limit_bpm - cfg.rate_hysteresis_bpm
    )
    held_s = held(state, src, beyond or (em.is_active(src) and not back), t)
    if beyond and held_s >= cfg.rate_sustain_s:
        extreme = hr < lim.extreme_bpm if low else hr > lim.extreme_bpm
        prio = "high" if extreme else "medium"
        cur = em.priority(src)
        # escalate to high, or start; do not de-escalate while active (avoid flapping)
        if cur is None or (prio == "high" and cur != "high"):
            em.raise_(
                src,
                prio,
                t,
                f"{'extreme ' if extreme else ''}{lim.name}: HR {hr:.0f} bpm",
                {
                    "hr_bpm": round(hr, 1),
                    "limit_bpm": lim.extreme_bpm if extreme else lim.limit_bpm,
                    "sustained_s": round(held_s, 1),
                    "beats": beats_evidence(state["beats"], t - 8.0, t),
                    "rule": f"HR {'<' if low else '>'} {lim.limit_bpm:.0f} bpm for "
                    f"{cfg.rate_sustain_s:.0f} s; high beyond {lim.extreme_bpm:.0f} "
                    "(IEC 60601-2-27)",
                },
            )
    elif back and em.is_active(src):
        em.clear(src, t, f"HR {hr:.0f} bpm back within limits", {"hr_bpm": round(hr, 1)})


def afib_rule(state: RuleState, em: Emitter, t: float, hr: float | None, cfg: RuleConfig) -> None:
    """``ecg.afib`` (medium): the RR intervals between conducted beats irregular and disordered
    (:func:`models.ecg.rhythm.af_irregular`: nRMSSD and CoV above their limits, Shannon entropy
    >= ``cfg.af_se``) over ``cfg.af_window`` intervals for ``cfg.af_sustain_s``, and not atrial
    flutter with variable block (:func:`models.ecg.measures.flutter_lattice`); clears when
    nRMSSD and CoV, or the entropy, fall below ``cfg.af_clear_factor`` x their limits.

    The intervals are between conducted beats (N, and fusion beats F, timed by the atrial
    impulse; ``cfg.af_rr_labels``): ectopic beats and the intervals around them are removed first
    (:func:`models.ecg.measures.af_rr_intervals`, after Petrenas 2015 and Dash 2009). When
    fewer than half of the last ``cfg.af_window`` intervals are between conducted beats
    (:func:`models.ecg.measures.nn_dominant`: the rhythm is mostly ectopic, e.g. atrial
    bigeminy) that window would reach back into an older rhythm, so N, F and S intervals are
    measured instead, whose entropy keeps an organised pattern from reading as AF. The raise
    carries the estimated AF onset and the clear the estimated offset (``af_onset`` /
    ``af_offset``, ISO, and ``af_onset_t`` / ``af_offset_t``, device POSIX s): the middle of
    the interval window on which the verdict first turned (the verdict turns when about half of
    the window's intervals are of the new rhythm), so the reported episode is not late by the
    window and the sustain time.

    Sources: Dash et al. 2009 (normalised RMSSD > 0.1 and Shannon entropy >= 0.7 of the RR
    series) [Dash2009]; Petrenas et al. 2015 (ectopic beats removed from the RR series)
    [Petrenas2015]; flutter with variable block [ACC2015]; AHA 2017 (AF monitoring) [AHA2017].
    """
    beats = state["beats"]
    labels = cfg.af_rr_labels if nn_dominant(beats, cfg) else (*cfg.af_rr_labels, "S")
    rr = af_rr_intervals(beats, cfg, labels)
    if rr is None:
        return
    irr = rhythm.rr_irregularity(rr, cfg.af_trim)
    irregular = rhythm.af_irregular(irr, cfg.af_nrmssd, cfg.af_cov, cfg.af_she)
    flutter = flutter_lattice(rr, cfg) if irregular else None
    irregular = irregular and flutter is None
    since = state["since"]
    if irregular and "afib" not in since:  # the verdict turns: onset estimate
        since["afib_onset"] = _window_middle(beats, len(rr), t, labels)
    if not irregular and em.is_active("ecg.afib") and "afib_offset" not in since:
        since["afib_offset"] = _window_middle(beats, len(rr), t, labels)
    if irregular:
        since.pop("afib_offset", None)
    held_s = held(state, "afib", irregular, t)
    ev = {k: round(v, 4) if isinstance(v, float) else v for k, v in irr.items()}
    if flutter is not None:
        ev["flutter_cycle_s"] = round(flutter, 3)
    if irregular and held_s >= cfg.af_sustain_s:
        if em.is_active("ecg.afib"):
            return
        onset = min(since.get("afib_onset", t), t)
        em.raise_(
            "ecg.afib",
            "medium",
            t,
            f"atrial fibrillation suspected since {iso(onset)}: irregular RR (nRMSSD "
            f"{irr['nrmssd']:.2f}, CoV {irr['cov']:.2f}, entropy {irr['she']:.2f} over "
            f"{irr['n']} intervals)",
            {
                **ev,
                "af_onset": iso(onset),
                "af_onset_t": round(onset, 3),
                "hr_bpm": round(hr, 1) if hr else None,
                "beats": beats_evidence(beats, t - 8.0, t),
                "rule": f"nRMSSD > {cfg.af_nrmssd}, CoV > {cfg.af_cov} and Shannon entropy "
                f">= {cfg.af_she} of conducted-beat RR (ectopic beats removed) over {cfg.af_window} "
                f"intervals for {cfg.af_sustain_s:.0f} s, not flutter with variable block "
                "(Dash 2009; Petrenas 2015)",
            },
        )
    elif em.is_active("ecg.afib") and (_af_organised(irr, cfg) or flutter is not None):
        offset = min(since.pop("afib_offset", t), t)
        em.clear(
            "ecg.afib",
            t,
            "RR regular or organised again"
            if flutter is None
            else f"RR organised: flutter with variable block (cycle {flutter:.2f} s)",
            {**ev, "af_offset": iso(offset), "af_offset_t": round(offset, 3)},
        )


def _window_middle(beats: list[BeatEntry], n: int, t: float, labels: tuple[str, ...]) -> float:
    start = af_window_start(beats, n, labels)
    return t if start is None else (start + t) / 2.0


def _af_organised(irr: Mapping[str, float], cfg: RuleConfig) -> bool:
    f = cfg.af_clear_factor
    return (irr["nrmssd"] < cfg.af_nrmssd * f and irr["cov"] < cfg.af_cov * f) or irr["she"] < cfg.af_she * f


def pvc_burden_rule(state: RuleState, em: Emitter, t: float, cfg: RuleConfig) -> None:
    """``ecg.pvc_burden`` (low): >= ``cfg.pvc_per_min`` V beats in the last ``cfg.pvc_window_s``;
    clears under ``cfg.pvc_clear_per_min``.

    Source: the usual "PVCs/min high" bedside-monitor default of 10/min; AHA 2017 discusses
    PVC-burden monitoring [AHA2017] (Lown grade 2: > 30 PVCs/h).
    """
    beats = state["beats"]
    recent = [b for b in beats if b[0] > t - cfg.pvc_window_s]
    n_v = sum(1 for b in recent if b[1] == "V")
    pvc_pct = 100.0 * n_v / len(recent) if recent else 0.0
    if n_v >= cfg.pvc_per_min:
        if not em.is_active("ecg.pvc_burden"):
            em.raise_(
                "ecg.pvc_burden",
                "low",
                t,
                f"frequent PVCs: {n_v} in the last {cfg.pvc_window_s:.0f} s ({pvc_pct:.0f} %)",
                {
                    "pvc_per_min": n_v,
                    "pvc_pct": round(pvc_pct, 1),
                    "beats": beats_evidence(beats, t - 8.0, t),
                    "rule": f">= {cfg.pvc_per_min} V beats per {cfg.pvc_window_s:.0f} s",
                },
            )
    elif n_v < cfg.pvc_clear_per_min and em.is_active("ecg.pvc_burden"):
        em.clear(
            "ecg.pvc_burden",
            t,
            "PVC rate back below limit",
            {"pvc_per_min": n_v, "pvc_pct": round(pvc_pct, 1)},
        )


__all__ = [
    "Quality",
    "afib_rule",
    "asystole_rule",
    "brady_rule",
    "feed_resumed_rule",
    "feed_stopped_rule",
    "gap_end",
    "leads_off_rule",
    "noise_rule",
    "pause_rule",
    "pvc_burden_rule",
    "signal_noisy",
    "signal_unanalysable",
    "tachy_rule",
    "vf_rule",
    "vt_rule",
]
