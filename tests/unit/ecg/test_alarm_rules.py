"""Each alarm rule function on its own, at the boundaries of its cited rule (defaults of
RuleConfig: IEC 60601-2-27, ANSI/AAMI EC13 / EC57, AHA 2017, Dash 2009, Kuo & Dillman 1978)."""

from __future__ import annotations

import numpy as np
import pytest

from models.ecg.alarms import rules_init
from models.ecg.alarms.rules import (
    afib_rule,
    asystole_rule,
    brady_rule,
    feed_resumed_rule,
    feed_stopped_rule,
    gap_end,
    leads_off_rule,
    noise_rule,
    pause_rule,
    pvc_burden_rule,
    tachy_rule,
    vf_rule,
    vt_rule,
)
from models.ecg.alarms.state import Emitter
from models.ecg.rule_config import RuleConfig
from models.ecg.signal_quality import ecg_signal_quality

CFG = RuleConfig()
T0 = 1_790_000_000.0


def fresh():
    st = rules_init()
    return st, Emitter(st)


def changes(em):
    return [(c.source, c.active, c.priority) for c in em.out]


# ------------------------------------------------------------------------------ technical
@pytest.mark.parametrize(("p2p_uv", "flat"), [(19.0, True), (21.0, False)])
def test_leads_off_at_20_uv_peak_to_peak(p2p_uv, flat):
    """IEC 60601-2-27 leads off: flat line under 20 uV peak to peak over 2 s."""
    fs = 250.0
    x = np.zeros(int(3 * fs))
    x[-10] = p2p_uv
    q = ecg_signal_quality(x, fs)
    assert q["flat"] is flat
    st, em = fresh()
    leads_off_rule(em, q, T0, CFG)
    assert changes(em) == ([("ecg.leads_off", True, "medium")] if flat else [])
    if flat:
        assert em.out[0].category == "technical" and not em.out[0].latched
        em = Emitter(st)
        leads_off_rule(em, {"flat": False}, T0 + 1, CFG)
        assert changes(em) == [("ecg.leads_off", False, "medium")]


def test_noise_sustained_4_s_low_in_band_medium_unanalysable_clears_after_4_s():
    st, em = fresh()
    inband = {"noisy_inband": True, "slope_ratio": 0.2}
    for k in range(4):  # noisy from T0; the 4th chunk ends at T0 + 4
        noise_rule(st, em, inband, T0 + k, T0 + k + 1, CFG)
    assert [(c.active, c.priority, c.t - T0) for c in em.out] == [(True, "low", 4.0)]
    noise_rule(st, em, {"noisy": True}, T0 + 4, T0 + 5, CFG)
    assert changes(em)[-1] == ("ecg.noise", True, "medium")
    for k in range(5, 9):  # clean from T0 + 5: clears at T0 + 9, 4 s later
        noise_rule(st, em, {}, T0 + k, T0 + k + 1, CFG)
    assert [(c.active, c.t - T0) for c in em.out][-1] == (False, 9.0)
    st, em = fresh()
    for k in range(3):  # 3 s of noise: not sustained
        noise_rule(st, em, inband, T0 + k, T0 + k + 1, CFG)
    assert em.out == []


def test_noise_is_not_a_vf_waveform():
    st, em = fresh()
    for k in range(6):
        noise_rule(st, em, {"noisy": True, "noisy_inband": True, "vf": True}, T0 + k, T0 + k + 1, CFG)
    assert em.out == []


@pytest.mark.parametrize(("silent_s", "alarm"), [(9.9, False), (10.0, True)])
def test_feed_stopped_after_10_s_of_silence(silent_s, alarm):
    st, em = fresh()
    feed_stopped_rule(em, last_rx_wall=100.0, now_wall=100.0 + silent_s, last_end_t=T0, cfg=CFG)
    assert changes(em) == ([("ecg.feed_stopped", True, "medium")] if alarm else [])
    if alarm:
        assert em.out[0].t == pytest.approx(T0 + silent_s)
        em = Emitter(st)
        feed_resumed_rule(em, T0 + 30)
        assert changes(em) == [("ecg.feed_stopped", False, "medium")]


# ------------------------------------------------------------------------------ signal
def test_vf_raised_after_2_s_of_vf_measures_and_cleared_after_4_s_without():
    """Kuo & Dillman / Barro measures positive for 2 s: high, latched."""
    st, em = fresh()
    vf = {"vf": True, "vf_leak": 0.4, "vf_conc": 0.5, "vf_freq_hz": 4.0}
    vf_rule(st, em, T0, T0 + 1, vf, CFG)
    assert em.out == []  # 1 s
    vf_rule(st, em, T0 + 1, T0 + 2, vf, CFG)
    assert [(c.active, c.priority, c.latched, c.t - T0) for c in em.out] == [(True, "high", True, 2.0)]
    assert "240 waves/min" in em.out[0].message
    for k in range(2, 5):  # 3 s without: still on
        vf_rule(st, em, T0 + k, T0 + k + 1, {"vf": False}, CFG)
    assert len(em.out) == 1
    vf_rule(st, em, T0 + 5, T0 + 6, {"vf": False}, CFG)  # 4 s without
    assert changes(em)[-1] == ("ecg.vfib", False, "high")


# ------------------------------------------------------------------------------ gaps
@pytest.mark.parametrize(
    ("gap_s", "pause", "asystole"),
    [(2.99, False, False), (3.0, True, False), (3.99, True, False), (4.0, True, True)],
)
def test_pause_at_3_s_asystole_at_4_s(gap_s, pause, asystole):
    """AHA 2017: pauses > 3 s; IEC 60601-2-27 / AAMI EC13: asystole, 4 s without a QRS."""
    st, em = fresh()
    pause_rule(st, em, T0, T0 + gap_s, CFG)
    asystole_rule(st, em, T0, T0 + gap_s, CFG)
    expected = [("ecg.pause", True, "medium")] * pause + [("ecg.asystole", True, "high")] * asystole
    assert changes(em) == expected
    assert [c.t - T0 for c in em.out] == [3.0] * pause + [4.0] * asystole
    if asystole:
        assert em.out[1].latched and em.out[1].evidence["pause_s"] == 4.0
        gap_end(st, em, T0 + 5.0)
        assert changes(em)[-2:] == [("ecg.pause", False, "medium"), ("ecg.asystole", False, "high")]
        assert em.out[-1].evidence["pause_s"] == 5.0


# ------------------------------------------------------------------------------ beats
def _vt(rr_s, n):
    st, em = fresh()
    for i in range(n):
        st["beats"].append([T0 + i * rr_s, "V", 1])
        vt_rule(st, em, T0 + i * rr_s, "V", CFG)
    return st, em


def test_vt_needs_3_consecutive_v_at_100_bpm():
    """AHA 2017 / AAMI EC57: VT is a run of >= 3 ventricular beats at >= 100 bpm."""
    assert changes(_vt(0.599, 3)[1]) == [("ecg.vtach", True, "high")]  # 100.2 bpm
    assert changes(_vt(0.5, 2)[1]) == []  # a couplet
    assert changes(_vt(0.601, 3)[1]) == []  # 99.8 bpm
    st, em = _vt(0.4, 5)
    assert len(em.out) == 1 and em.out[0].evidence["run_beats"] == 3
    vt_rule(st, em, T0 + 2.2, "N", CFG)  # the run ends
    assert changes(em)[-1] == ("ecg.vtach", False, "high") and em.out[-1].evidence["run_beats"] == 5
    assert st["run"] == []


def _rate(rule, hr, seconds, st=None, em=None):
    if st is None:
        st, em = fresh()
    for k in range(seconds + 1):
        rule(st, em, T0 + k, hr, CFG)
    return st, em


def test_brady_below_50_for_10_s_high_below_40_clears_at_55():
    """IEC 60601-2-27 / AAMI EC13: adjustable low HR limit (adult default 50, extreme 40)."""
    assert changes(_rate(brady_rule, 49.9, 9)[1]) == []  # 9 s: not sustained
    st, em = _rate(brady_rule, 49.9, 10)
    assert changes(em) == [("ecg.brady", True, "medium")]
    assert changes(_rate(brady_rule, 50.0, 20)[1]) == []  # at the limit: no alarm
    assert changes(_rate(brady_rule, 39.9, 10)[1]) == [("ecg.brady", True, "high")]
    brady_rule(st, em, T0 + 11, 54.9, CFG)  # inside the hysteresis
    assert len(em.out) == 1
    brady_rule(st, em, T0 + 12, 55.0, CFG)
    assert changes(em)[-1] == ("ecg.brady", False, "medium")


def test_tachy_above_120_for_10_s_escalates_above_150_never_deescalates():
    """IEC 60601-2-27 / AAMI EC13: adjustable high HR limit (adult default 120, extreme 150)."""
    assert changes(_rate(tachy_rule, 120.0, 20)[1]) == []
    st, em = _rate(tachy_rule, 120.1, 10)
    assert changes(em) == [("ecg.tachy", True, "medium")]
    tachy_rule(st, em, T0 + 11, 150.1, CFG)  # escalates in place
    assert changes(em)[-1] == ("ecg.tachy", True, "high")
    tachy_rule(st, em, T0 + 12, 130.0, CFG)  # stays high
    tachy_rule(st, em, T0 + 13, 115.1, CFG)
    assert len(em.out) == 2
    tachy_rule(st, em, T0 + 14, 115.0, CFG)
    assert changes(em)[-1] == ("ecg.tachy", False, "high")


def _beats(rr_s, labels=None):
    t = T0 + np.concatenate([[0.0], np.cumsum(rr_s)])
    labels = labels or ["N"] * len(t)
    return [[float(x), lab, 1] for x, lab in zip(t, labels, strict=True)]


def test_afib_needs_20_intervals_and_10_s_of_disordered_rr():
    """Dash 2009: nRMSSD and CoV high and Shannon entropy >= 0.7 of the N/S RR series."""
    af_rr = list(np.clip(np.random.default_rng(3).gamma(6.0, 0.6 / 6.0, 60), 0.3, 1.6))
    st, em = fresh()
    st["beats"] = _beats(af_rr[:19])  # 19 intervals: no verdict
    afib_rule(st, em, st["beats"][-1][0], 80.0, CFG)
    assert em.out == [] and st["since"] == {}
    st["beats"] = _beats(af_rr[:20])
    t20 = st["beats"][-1][0]
    afib_rule(st, em, t20, 80.0, CFG)
    assert em.out == [] and st["since"]["afib"] == t20  # irregular, not yet 10 s
    afib_rule(st, em, t20 + 9.9, 80.0, CFG)
    assert em.out == []
    afib_rule(st, em, t20 + 10.0, 80.0, CFG)
    assert changes(em) == [("ecg.afib", True, "medium")]
    assert em.out[0].evidence["she"] >= 0.7 and em.out[0].evidence["hr_bpm"] == 80.0
    st["beats"] = _beats([0.8] * 30)  # regular again
    afib_rule(st, em, st["beats"][-1][0], 75.0, CFG)
    assert changes(em)[-1] == ("ecg.afib", False, "medium")


def test_afib_not_from_bigeminy():
    st, em = fresh()
    st["beats"] = _beats([0.55, 1.0] * 20, ["N"] + ["S", "N"] * 20)
    for k in range(15):
        afib_rule(st, em, st["beats"][-1][0] + k, 80.0, CFG)
    assert em.out == []


def test_pvc_burden_10_per_minute_clears_under_7():
    """The usual monitor default of 10 PVCs/min (AHA 2017 on PVC-burden monitoring)."""

    def burden(n_v):
        st, em = fresh()
        st["beats"] = [[T0 + i, "V" if i < n_v else "N", 1] for i in range(60)]
        pvc_burden_rule(st, em, T0 + 59.5, CFG)
        return st, em

    assert changes(burden(9)[1]) == []
    st, em = burden(10)
    assert changes(em) == [("ecg.pvc_burden", True, "low")]
    assert em.out[0].evidence["pvc_per_min"] == 10
    st["beats"] = [[T0 + i, "V" if i >= 53 else "N", 1] for i in range(60)]  # 7 in the window
    pvc_burden_rule(st, em, T0 + 59.5, CFG)
    assert len(em.out) == 1
    st["beats"] = [[T0 + i, "V" if i >= 54 else "N", 1] for i in range(60)]  # 6
    pvc_burden_rule(st, em, T0 + 59.5, CFG)
    assert changes(em)[-1] == ("ecg.pvc_burden", False, "low")
