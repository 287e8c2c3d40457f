"""The AF and VT alarms of issue #23 through the whole rule engine (1 s chunks): AF from N-N
intervals with ectopic beats removed (Petrenas 2015; Dash 2009), not raised on atrial flutter
with variable block, with its onset and offset in the evidence; VT runs that carry fusion /
unclassifiable beats when configured, and chained under VF; the synthetic VT and VF of the demo
told apart by the VF measures."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from models.ecg import rhythm
from models.ecg.alarms import rules_init, rules_step
from models.ecg.measures import af_rr_intervals, flutter_lattice, nn_dominant
from models.ecg.rule_config import RuleConfig
from models.ecg.vf import vf_measures
from simulators.ecg_synth import SynthEvent, synth_ecg

T0 = 1_790_000_000.0
CLEAN = {"flat": False, "noisy": False, "p2p_uv": 1500.0, "hf_ratio": 0.02}
CFG = RuleConfig()


def beats_at(rr_s, labels=None, t0=T0 + 0.5):
    t = t0 + np.concatenate([[0.0], np.cumsum(rr_s)])
    labels = labels or ["N"] * len(t)
    return list(zip(t.tolist(), labels, strict=False))


def drive(beats, seconds, cfg=CFG, quality=lambda k: CLEAN):
    state, out = rules_init(), []
    for k in range(int(seconds)):
        s, e = T0 + k, T0 + k + 1
        chunk = [(t, lab) for t, lab in beats if s <= t < e]
        out += rules_step(state, chunk, start_t=s, end_t=e, analysed_t=e - 0.3, quality=quality(k), cfg=cfg)
    json.dumps(state)
    return state, out


def of(out, source):
    return [c for c in out if c.source == source]


def af_rr(n, seed=3, mean=0.6):
    return list(np.clip(np.random.default_rng(seed).gamma(6.0, mean / 6.0, n), 0.3, 1.6))


# ------------------------------------------------------------------------------ AF
def test_af_with_frequent_pvcs_is_af():
    """AF with a PVC after every third conducted beat: the coupling intervals and pauses are
    removed, the N-N intervals left are AF's, and the alarm is raised."""
    rr, labels = [], ["N"]
    for i, x in enumerate(af_rr(240)):
        if i % 4 == 3:  # PVC at a fixed coupling, then a pause
            rr += [0.42, 0.9]
            labels += ["V", "N"]
        else:
            rr.append(x)
            labels.append("N")
    _, out = drive(beats_at(rr, labels), sum(rr) + 1)
    assert [c.active for c in of(out, "ecg.afib")] == [True]


def test_frequent_apcs_with_variable_coupling_are_not_af():
    """Sinus rhythm with an APC (varying coupling, non-compensatory pause) every fourth beat:
    N and S intervals together look irregular and scattered, the N-N intervals are regular."""
    rng = np.random.default_rng(5)
    rr, labels = [], ["N"]
    for i in range(200):
        if i % 4 == 3:
            c = float(rng.uniform(0.4, 0.65))
            rr += [c, float(rng.uniform(0.8, 0.95))]
            labels += ["S", "N"]
        else:
            rr.append(0.85 * float(rng.normal(1, 0.01)))
            labels.append("N")
    beats = beats_at(rr, labels)
    _, out = drive(beats, sum(rr) + 1)
    assert of(out, "ecg.afib") == []


def test_flutter_with_variable_block_is_not_af():
    """Atrial flutter at 300/min conducted 2:1, 3:1 or 4:1 at random (plus 20 ms of AV
    conduction jitter): as variable beat to beat as AF. Dash's entropy already calls most
    windows organised (three clusters of intervals); some are scattered enough to pass it, and
    the flutter test vetoes those whose intervals are whole numbers of one flutter cycle."""
    rng = np.random.default_rng(17)
    rr = list(0.2 * rng.choice([2, 3, 4], 300) + rng.normal(0, 0.02, 300))
    _, out = drive(beats_at(rr), sum(rr) + 1)
    assert of(out, "ecg.afib") == []
    windows = [rr[i : i + 30] for i in range(270)]
    dash_af = [w for w in windows if rhythm.af_irregular(rhythm.rr_irregularity(w))]
    cycles = [flutter_lattice(w) for w in dash_af]
    found = [c for c in cycles if c is not None]
    assert len(dash_af) > 20 and len(found) >= len(dash_af) / 3
    assert all(abs(c - 0.2) < 0.008 for c in found)
    # a fixed block is a regular rhythm, not flutter with variable block
    assert flutter_lattice([0.4] * 30) is None


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_af_is_never_read_as_flutter(seed):
    for mean in (0.45, 0.6, 0.8):
        rr = af_rr(30, seed=seed, mean=mean)
        assert flutter_lattice(rr) is None


def test_af_onset_and_offset_are_reported():
    """Sinus 60 s, AF 120 s, sinus again: the raise carries the onset and the clear the offset,
    both far closer to the truth than the alarm's own times."""
    sinus = [0.8] * 75
    af = af_rr(200)
    af = af[: int(np.searchsorted(np.cumsum(af), 120.0))]
    rr = sinus + af + [0.8] * 120
    beats = beats_at(rr)
    t_on = beats[len(sinus)][0]
    t_off = beats[len(sinus) + len(af)][0]
    _, out = drive(beats, sum(rr) + 1)
    raised, cleared = of(out, "ecg.afib")
    assert raised.active and not cleared.active
    on, off = raised.evidence["af_onset_t"], cleared.evidence["af_offset_t"]
    assert abs(on - t_on) < 10.0 < raised.t - t_on
    assert abs(off - t_off) < 10.0 < cleared.t - t_off
    assert raised.evidence["af_onset"].startswith("20") and "since" in raised.message


def test_atrial_bigeminy_uses_n_and_s_intervals():
    beats = [[T0 + 0.8 * i, "NS"[i % 2], 0] for i in range(60)]
    assert not nn_dominant(beats)
    assert af_rr_intervals(beats) is None  # no N-N interval at all
    assert len(af_rr_intervals(beats, labels=("N", "S"))) == 30


# ------------------------------------------------------------------------------ VT
def test_vt_run_with_fusion_and_unknown_beats_when_configured():
    """V F Q at 150/min: one V, then beats the classifier could not call; N V F Q N."""
    beats = beats_at([0.8, 0.8, 0.4, 0.4, 0.4, 0.8, 0.8], ["N", "N", "V", "F", "Q", "N", "N", "N"])
    _, out = drive(beats, 8)
    assert of(out, "ecg.vtach") == []  # V only: no run of 3
    cfg = replace(CFG, vt_run_extra=("F", "Q"))
    _, out = drive(beats, 8, cfg=cfg)
    assert [c.active for c in of(out, "ecg.vtach")] == [True, False]
    assert out[0].evidence["run_v_beats"] == 1
    # the run must start with a V: F F Q is not a VT
    beats = beats_at([0.8, 0.4, 0.4, 0.4, 0.8], ["N", "F", "F", "Q", "N", "N"])
    assert of(drive(beats, 6, cfg=cfg)[1], "ecg.vtach") == []
    # and at least vt_min_v V beats when asked
    beats = beats_at([0.8, 0.4, 0.4, 0.8], ["N", "V", "F", "Q", "N"])
    assert of(drive(beats, 6, cfg=replace(cfg, vt_min_v=2))[1], "ecg.vtach") == []


def test_no_vt_alarm_while_the_vf_alarm_is_on():
    """VF waves detected as fast V beats do not add a VT alarm to the VF alarm."""
    vf_q = {**CLEAN, "vf": True, "vf_leak": 0.4, "vf_conc": 0.5, "vf_freq_hz": 5.0}
    beats = beats_at([0.3] * 30, ["V"] * 31, t0=T0 + 4.5)
    _, out = drive(beats, 14, quality=lambda k: vf_q)
    lethal = ("ecg.vfib", "ecg.vtach")
    assert [c.source for c in out if c.active and c.source in lethal] == ["ecg.vfib"]
    _, out = drive(beats, 14)  # the same beats without the VF waveform: VT
    assert [c.source for c in out if c.active and c.source in lethal] == ["ecg.vtach"]


# ------------------------------------------------------------------------------ synthetic
def _vf_windows(sig, fs, t_from, t_to):
    return [vf_measures(sig[: int(t * fs)], fs)["vf"] for t in np.arange(t_from, t_to, 0.5)]


@pytest.mark.parametrize("rate", [140.0, 170.0, 190.0])
def test_synthetic_vt_is_not_ventricular_flutter(rate):
    """The simulator's VT run (the demo's VT bed) does not pass the VF measures; until
    2026-12-05 its complexes were nearly sine waves and every window did."""
    fs = 360.0
    sig, beats = synth_ecg(30, fs, 80, [SynthEvent("vrun", 10, 15, {"rate_bpm": rate})], seed=1)
    assert sum(lab == "V" for _, lab in beats) > 30
    assert not any(_vf_windows(sig, fs, 15, 25))


def test_synthetic_vf_is_ventricular_flutter():
    fs = 360.0
    sig, _ = synth_ecg(50, fs, 80, [SynthEvent("vf", 10, 30)], seed=1)
    assert np.mean(_vf_windows(sig, fs, 15, 40)) > 0.8
