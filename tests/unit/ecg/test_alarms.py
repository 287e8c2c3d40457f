"""Each alarm rule on constructed beat sequences and signals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.ecg.alarms import feed_check, feed_resumed, rules_init, rules_step
from models.ecg.measures import hr_from_beats
from models.ecg.rule_config import RuleConfig
from models.ecg.signal_quality import ecg_signal_quality
from models.ecg.vf import vf_measures
from simulators.ecg_synth import SynthEvent, synth_ecg

CLEAN = {"flat": False, "noisy": False, "p2p_uv": 1500.0, "hf_ratio": 0.01}
T0 = 1_790_000_000.0


def beats_at(rr_s, labels=None, t0=T0 + 0.5):
    t = t0 + np.concatenate([[0.0], np.cumsum(rr_s)])
    labels = labels or ["N"] * len(t)
    return list(zip(t.tolist(), labels, strict=False))


def drive(beats, seconds, quality=lambda k: CLEAN, state=None, cfg=None):
    """Feed beats through the rules in 1 s chunks; return (state, changes)."""
    state = state or rules_init()
    cfg = cfg or RuleConfig()
    out = []
    for k in range(int(seconds)):
        s, e = T0 + k, T0 + k + 1
        chunk = [(t, lab) for t, lab in beats if s <= t < e]
        out += rules_step(state, chunk, start_t=s, end_t=e, analysed_t=e - 0.3, quality=quality(k), cfg=cfg)
    json.dumps(state)  # state stays JSON-serialisable
    return state, out


def changes(out, source=None):
    return [(c.source, c.active, c.priority) for c in out if source is None or c.source == source]


def test_sinus_is_quiet():
    rng = np.random.default_rng(0)
    rr = 0.8 * (1 + 0.03 * np.sin(np.arange(120) / 3)) + rng.normal(0, 0.008, 120)
    _, out = drive(beats_at(rr), 95)
    assert out == []


def test_vt_run_fires_once_latched_high_with_evidence():
    rr = [0.8] * 20 + [0.38] * 8 + [0.8] * 20
    labels = ["N"] * 21 + ["V"] * 8 + ["N"] * 20
    _, out = drive(beats_at(rr, labels), 40)
    vt = [c for c in out if c.source == "ecg.vtach"]
    assert [(c.active, c.priority) for c in vt] == [(True, "high"), (False, "high")]
    on = vt[0]
    assert on.latched and on.category == "physiological"
    assert on.evidence["run_beats"] == 3 and on.evidence["rate_bpm"] > 150
    assert [b["label"] for b in on.evidence["beats"]][-3:] == ["V", "V", "V"]
    assert vt[1].evidence["run_beats"] == 8


def test_slow_or_short_v_runs_are_not_vt():
    # 2 consecutive V (couplet) and a slow idioventricular run of 4 at 60 bpm
    rr = [0.8] * 10 + [0.5] + [0.5] + [0.8] * 10 + [1.0] * 4 + [0.8] * 10
    labels = ["N"] * 11 + ["V", "V"] + ["N"] * 9 + ["V"] * 4 + ["N"] * 11
    _, out = drive(beats_at(rr, labels[: len(rr) + 1]), 40)
    assert changes(out, "ecg.vtach") == []


def test_pause_then_asystole_then_recovery():
    rr = [0.8] * 10 + [5.5] + [0.8] * 10
    _, out = drive(beats_at(rr), 25)
    assert changes(out, "ecg.pause") == [("ecg.pause", True, "medium"), ("ecg.pause", False, "medium")]
    asy = [c for c in out if c.source == "ecg.asystole"]
    assert [(c.active, c.priority, c.latched) for c in asy] == [(True, "high", True), (False, "high", True)]
    assert asy[0].evidence["pause_s"] >= 4.0


def test_short_pause_only():
    _, out = drive(beats_at([0.8] * 10 + [3.4] + [0.8] * 20), 25)
    assert {c.source for c in out} == {"ecg.pause"}


def test_brady_and_tachy_thresholds_with_sustain():
    _, out = drive(beats_at([60 / 45] * 30), 40)  # 45 bpm: brady medium after 10 s
    brady = [c for c in out if c.source == "ecg.brady"]
    assert [(c.active, c.priority) for c in brady] == [(True, "medium")]
    assert brady[0].t - T0 >= 10
    _, out = drive(beats_at([60 / 36] * 30), 45)  # 36 bpm: extreme -> high
    assert changes(out, "ecg.brady") == [("ecg.brady", True, "high")]
    _, out = drive(beats_at([60 / 130] * 80), 35)  # 130 bpm: tachy medium
    assert changes(out) == [("ecg.tachy", True, "medium")]
    _, out = drive(beats_at([60 / 55] * 40), 40)  # 55 bpm: within limits
    assert out == []
    _, out = drive(beats_at([60 / 130] * 3 + [0.8] * 40), 30)  # 2 s of 130: not sustained
    assert out == []


def test_tachy_resolves_when_rate_returns():
    rr = [60 / 130] * 40 + [0.8] * 30
    _, out = drive(beats_at(rr), 45)
    assert changes(out, "ecg.tachy") == [("ecg.tachy", True, "medium"), ("ecg.tachy", False, "medium")]


def test_af_on_irregular_rr_not_on_sinus_or_pvcs():
    rng = np.random.default_rng(1)
    af_rr = np.clip(rng.gamma(6.0, 0.6 / 6.0, 120), 0.3, 1.6)
    _, out = drive(beats_at(af_rr), 70)
    af = [c for c in out if c.source == "ecg.afib"]
    assert [(c.active, c.priority) for c in af] == [(True, "medium")]
    assert af[0].evidence["nrmssd"] > 0.1
    # sinus with PVCs and compensatory pauses: V intervals are excluded -> no AF
    rr, labels = [], ["N"]
    for i in range(80):
        if i % 6 == 5:
            rr += [0.5, 1.1]
            labels += ["V", "N"]
        else:
            rr.append(0.8)
            labels.append("N")
    _, out = drive(beats_at(rr, labels), 80)
    assert changes(out, "ecg.afib") == []


def test_atrial_bigeminy_is_not_af_and_ends_an_af_alarm():
    # N S N S ...: every other beat an atrial premature beat, so every interval is an N/S one
    # and nRMSSD/CoV are as high as in AF; only the entropy (two RR clusters) tells it apart
    bigeminy = [0.55, 1.0] * 40
    _, out = drive(beats_at(bigeminy, ["N"] + ["S", "N"] * 40), 70)
    assert changes(out, "ecg.afib") == []
    af_rr = list(np.clip(np.random.default_rng(2).gamma(6.0, 0.6 / 6.0, 80), 0.3, 1.6))
    rr = af_rr + bigeminy
    labels = ["N"] * (len(af_rr) + 1) + ["S", "N"] * 40
    _, out = drive(beats_at(rr, labels), sum(rr) + 1)
    af = [c for c in out if c.source == "ecg.afib"]
    assert [c.active for c in af] == [True, False]
    assert af[0].evidence["she"] >= 0.7
    assert af[1].t < T0 + sum(af_rr) + 25 * 0.775  # cleared within the first 25 beats


def test_pvc_burden():
    rr, labels = [], ["N"]
    for i in range(90):  # one PVC every 4th beat at 75 bpm ~ 19 PVC/min
        if i % 4 == 3:
            rr += [0.5]
            labels += ["V"]
        else:
            rr += [0.8]
            labels += ["N"]
    _, out = drive(beats_at(rr, labels), 65)
    pvc = [c for c in out if c.source == "ecg.pvc_burden"]
    assert [(c.active, c.priority) for c in pvc] == [(True, "low")]
    assert pvc[0].evidence["pvc_per_min"] >= 10 and 0 < pvc[0].evidence["pvc_pct"] < 50


def test_flat_line_is_leads_off_not_asystole():
    fs = 360.0
    sig, _ = synth_ecg(20, fs, 70, [SynthEvent("leads_off", 8, 8)], seed=2)
    q = [ecg_signal_quality(sig[max(0, int((k + 1 - 3) * fs)) : int((k + 1) * fs)], fs) for k in range(20)]
    beats = [(T0 + t, "N") for t in np.arange(0.5, 8, 0.85)]
    beats += [(T0 + t, "N") for t in np.arange(16.4, 20, 0.85)]
    _, out = drive(beats, 20, quality=lambda k: q[k])
    srcs = changes(out)
    assert ("ecg.leads_off", True, "medium") in srcs and ("ecg.leads_off", False, "medium") in srcs
    lo = next(c for c in out if c.source == "ecg.leads_off")
    assert lo.category == "technical" and not lo.latched
    assert not any(s in ("ecg.asystole", "ecg.pause") for s, _, _ in srcs)


def test_noise_technical_alarm_after_sustain_and_clear():
    fs = 360.0
    sig, _ = synth_ecg(30, fs, 70, [SynthEvent("noise", 5, 12, {"amp_uv": 500})], seed=2)
    q = [ecg_signal_quality(sig[max(0, int((k - 2) * fs)) : int((k + 1) * fs)], fs) for k in range(30)]
    assert sum(x["noisy"] for x in q) >= 10
    beats = [(T0 + t, "N") for t in np.arange(0.5, 30, 0.85)]
    _, out = drive(beats, 30, quality=lambda k: q[k])
    noise = [c for c in out if c.source == "ecg.noise"]
    assert [(c.active, c.category) for c in noise] == [(True, "technical"), (False, "technical")]
    assert noise[0].t - T0 >= 5 + 4 - 1
    assert all(c.source == "ecg.noise" for c in out)


def _signal_quality(sig, fs, seconds):
    """What the agent measures after each 1 s chunk: quality and VF measures of the last 10 s."""
    out = []
    for k in range(seconds):
        w = sig[max(0, int((k - 9) * fs)) : int((k + 1) * fs)]
        out.append(ecg_signal_quality(w, fs) | vf_measures(w, fs))
    return out


def test_vf_fires_once_high_latched_and_chains_rate_and_pause_alarms():
    fs = 360.0
    sig, beats = synth_ecg(60, fs, 90, [SynthEvent("vf", 20, 20)], seed=3)
    q = _signal_quality(sig, fs, 60)
    assert not any(x["vf"] for x in q[:20]) and sum(x["vf"] for x in q[24:40]) >= 14
    # beats as the detector would see them: sinus outside VF, a few stray waves inside it
    bt = [(T0 + s / fs, lab) for s, lab in beats] + [(T0 + t, "V") for t in (23.0, 27.5, 33.1, 38.2)]
    _, out = drive(sorted(bt), 60, quality=lambda k: q[k])
    vf = [c for c in out if c.source == "ecg.vfib"]
    assert [(c.active, c.priority) for c in vf] == [(True, "high"), (False, "high")]
    assert vf[0].latched and vf[0].category == "physiological"
    assert 21 <= vf[0].t - T0 <= 26  # within 6 s of onset (4 s window + 2 s sustained)
    assert 40 <= vf[1].t - T0 <= 47 and 3.5 <= vf[0].evidence["vf_freq_hz"] <= 6.5
    # the stray waves give long gaps and low rates: no pause / asystole / brady while VF is on
    during = [c.source for c in out if c.active and vf[0].t <= c.t <= vf[1].t and c.source != "ecg.vfib"]
    assert during == []
    # without the VF measures (an older agent's quality dict) the same input raises pauses, and
    # the in-band noise measure calls the VF "noise": why a positive VF measure overrides it
    assert sum(x["noisy_inband"] for x in q[24:40]) >= 12
    _, plain = drive(sorted(bt), 60, quality=lambda k: {x: q[k][x] for x in (*CLEAN, "noisy_inband")})
    assert "ecg.vfib" not in {c.source for c in plain}
    assert {"ecg.pause", "ecg.noise"} <= {c.source for c in plain}


def test_vf_measures_quiet_on_fast_organised_rhythms_and_noise():
    fs = 360.0
    for hr in (60, 110, 150, 180):  # sinus up to 180/min: narrow QRS, energy spread
        sig, _ = synth_ecg(12, fs, hr, seed=hr)
        assert not vf_measures(sig, fs)["vf"], hr
    sig, _ = synth_ecg(12, fs, 70, [SynthEvent("noise", 0, 12, {"amp_uv": 500})], seed=1)
    assert not vf_measures(sig, fs)["vf"]
    assert not vf_measures(sig[: int(2 * fs)], fs)["vf"]  # under 4 s: no verdict
    assert not vf_measures(np.zeros(int(5 * fs)), fs)["vf"]  # flat line


@pytest.mark.parametrize(
    ("record", "start", "stop", "flutter"),
    [("207", 35.0, 62.0, True), ("208", 0.0, 120.0, False), ("203", 0.0, 120.0, False)],
)
def test_vf_on_real_records(record, start, stop, flutter):
    """207's ventricular flutter (MIT-BIH '[' at 40.7 s, ']' at 51.0 s, then 54.8-60.4 s) is found
    within 6 s; 208 (frequent multiform PVCs, couplets) and 203 (AF, multiform VT) have none."""
    from models.ecg.evaluate import load_record
    from wardwatch.settings import shared_data

    rec = load_record(shared_data("mitdb-ds1") / record, max_seconds=stop)
    fs = rec["fs"]
    uv = rec["signal"] * 1000.0
    hits = [
        k
        for k in range(int(start) + 4, int(stop))
        if vf_measures(uv[int((k - 4) * fs) : int(k * fs)], fs)["vf"]
    ]
    if flutter:
        assert hits and hits[0] <= 40.7 + 6 and all(40.7 < k <= 61.0 + 1 for k in hits), hits
    else:
        assert hits == []


@pytest.mark.parametrize("condition", ["noise_12db", "baseline_wander"])
def test_vf_measures_see_flutter_through_noise_and_wander(condition):
    """White noise at 12 dB SNR (nst convention) or a 0.5 mV respiratory wander on 207 used to
    hide its flutter in (nearly) every window; the 0.5-30 Hz band-pass before the measures keeps
    most of them."""
    from models.ecg import robustness as rb
    from models.ecg.evaluate import load_record
    from wardwatch.settings import shared_data

    rec = load_record(shared_data("mitdb-ds1") / "207", max_seconds=70)
    fs = rec["fs"]
    uv = rb.CONDITIONS[condition][1](rec)["signal"] * 1000.0
    ends = range(35, 70)
    hits = [k for k in ends if vf_measures(uv[int((k - 5) * fs) : int(k * fs)], fs)["vf"]]
    flutter = [k for k in ends if 40.7 + 4 <= k <= 51.0 or 54.8 + 4 <= k <= 60.4]  # all 4 s inside
    assert len(set(hits) & set(flutter)) >= 0.6 * len(flutter), hits
    assert all(40.7 < k <= 61.0 + 1 for k in hits), hits
    plain = [
        k
        for k in flutter
        if vf_measures(uv[int((k - 5) * fs) : int(k * fs)], fs, RuleConfig(vf_band_hz=(0.05, 0.45 * fs)))[
            "vf"
        ]
    ]
    assert len(plain) < len(hits)  # without the band-pass it is (nearly) blind


def test_feed_stopped_and_resumed():
    st = rules_init()
    assert feed_check(st, last_rx_wall=100.0, now_wall=105.0, last_end_t=T0) == []
    on = feed_check(st, last_rx_wall=100.0, now_wall=111.0, last_end_t=T0)
    assert [(c.source, c.active, c.category) for c in on] == [("ecg.feed_stopped", True, "technical")]
    assert feed_check(st, last_rx_wall=100.0, now_wall=130.0, last_end_t=T0) == []  # once
    off = feed_resumed(st, T0 + 31)
    assert [(c.source, c.active) for c in off] == [("ecg.feed_stopped", False)]


def test_hr_from_rr():
    beats = [[T0 + 0.75 * i, "N", 1] for i in range(10)]
    assert hr_from_beats(beats) == pytest.approx(80.0)
    beats[5:] = [[b[0], b[1], 2] for b in beats[5:]]  # no RR across a segment break
    assert hr_from_beats(beats) == pytest.approx(80.0)
    assert hr_from_beats(beats[:2]) is None


def _monitor(rec_or_uv, fs=None, snr_db=None):
    """A real or synthetic lead as a monitor in monitoring mode delivers it (optionally with
    white noise at ``snr_db``, nst convention), back in microvolts."""
    from models.ecg import robustness as rb

    rec = rec_or_uv if fs is None else {"fs": fs, "signal": np.asarray(rec_or_uv) / 1000.0, "signal2": None}
    if snr_db is not None:
        rec = rb.noise(rec, snr_db=snr_db, seed=0)
    return rb.monitor_filter(rec)["signal"] * 1000.0


def test_noise_behind_a_monitor_filter_is_unanalysable_and_clean_is_not():
    """A 0.5-40 Hz monitoring-mode filter removes the 40-150 Hz band the spectral measure needs
    (it used to say 'clean' at 6 dB SNR); the in-band slope measure still sees the noise, on a
    real DS1 record, at 360 Hz and resampled to 250 Hz, and raises ecg.noise (analysis goes on:
    the measure also rises in fast wide-QRS VT)."""
    from models.ecg.evaluate import load_record, reference_beats, resample_record
    from wardwatch.settings import shared_data

    rec = load_record(shared_data("mitdb-ds1") / "119", max_seconds=60)
    for r in (rec, resample_record(rec, 250)):
        fs = r["fs"]
        clean = _signal_quality(_monitor(r), fs, 60)[10:]
        noisy = _signal_quality(_monitor(r, snr_db=6.0), fs, 60)[10:]
        assert not any(x["noisy"] or x["noisy_inband"] for x in clean), fs
        assert sum(x["noisy_inband"] for x in noisy) >= 0.9 * len(noisy), fs
        # the spectral measure is blind behind the filter
        assert not any(x["noisy"] for x in noisy)
        assert min(x["slope_ratio"] for x in noisy) > 2 * max(x["slope_ratio"] for x in clean)
    beats = [(T0 + s / rec["fs"], lab) for s, lab in zip(*reference_beats(rec), strict=True)]
    q = _signal_quality(_monitor(rec, snr_db=6.0), rec["fs"], 60)
    _, out = drive(beats, 60, quality=lambda k: q[k] if k >= 10 else CLEAN)
    _, ref = drive(beats, 60)
    assert [(c.source, c.active) for c in out] == [("ecg.noise", True)] + [
        (c.source, c.active) for c in ref
    ]  # and the rhythm's own alarms, unchanged
    assert 10 + 4 <= out[0].t - T0 <= 10 + 6
    assert out[0].evidence["slope_ratio"] > RuleConfig().noise_slope_ratio
    assert "analysis continues" in out[0].message  # in-band noise never hides a rhythm
    assert out[0].priority == "low"


def test_noise_alarm_escalates_in_place_when_the_signal_becomes_unanalysable():
    inband = {**CLEAN, "noisy_inband": True, "slope_ratio": 0.2}
    worse = {**inband, "noisy": True, "hf_ratio": 0.9}
    q = [CLEAN] * 5 + [inband] * 8 + [worse, inband] * 4 + [CLEAN] * 8  # no flapping
    beats = [(T0 + t, "N") for t in np.arange(0.5, 29, 0.85)]
    _, out = drive(beats, 29, quality=lambda k: q[k])
    noise = [(c.active, c.priority, c.message.split(":")[0]) for c in out if c.source == "ecg.noise"]
    assert noise == [
        (True, "low", "ECG noisy"),
        (True, "medium", "ECG unanalysable"),
        (False, "medium", "ECG analysable again"),
    ]


def test_asystole_behind_a_monitor_filter_is_not_noise():
    """15 s without a QRS outlasts the 10 s rolling signal, so the slope measure loses its QRS
    reference; the quiet baseline stays under the slope floor: asystole, never 'noise'."""
    fs = 360.0
    sig, beats = synth_ecg(40, fs, 70, [SynthEvent("pause", 15, 15)], seed=4)
    q = _signal_quality(_monitor(sig, fs), fs, 40)
    assert not any(x["noisy"] or x["noisy_inband"] for x in q)
    assert max(x["slope_ratio"] for x in q[27:30]) > RuleConfig().noise_slope_ratio  # no QRS left
    _, out = drive([(T0 + s / fs, lab) for s, lab in beats], 40, quality=lambda k: q[k])
    assert [c.source for c in out if c.active][:2] == ["ecg.pause", "ecg.asystole"]
    assert "ecg.noise" not in {c.source for c in out}
