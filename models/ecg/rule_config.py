"""Thresholds of the ECG signal measures and alarm rules (:class:`RuleConfig`), in physical units.

Each parameter says what it means and where its value comes from (the references are listed in
:mod:`models.ecg.alarms`); how the values that were tuned on data were chosen is in
``models/ecg/tuning_history.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.ecg import rhythm


@dataclass(frozen=True)
class RuleConfig:
    """Alarm thresholds in physical units (seconds, bpm, microvolts).

    Defaults follow common adult bedside-monitor defaults and the cited standards; every one
    is adjustable per unit as IEC 60601-2-27 requires for HR limits.
    """

    # Pause: no QRS for pause_s, clinically significant beyond 3 s [AHA2017]. Asystole (cardiac
    # standstill) must alarm [IEC][EC13]; "no QRS for 4 s" is the usual monitor default.
    pause_s: float = 3.0
    asystole_s: float = 4.0
    # VT: >= vt_min_beats consecutive ventricular beats at a rate >= vt_rate_bpm [AHA2017][EC57].
    vt_min_beats: int = 3
    vt_rate_bpm: float = 100.0
    # Inside a run that holds a V beat, beats labelled vt_run_extra (F fusion, Q unclassifiable:
    # no evidence of a conducted beat) continue it; the run must hold at least vt_min_v V beats.
    vt_run_extra: tuple[str, ...] = ()
    vt_min_v: int = 1
    # VF / flutter, found in the signal (it has no QRS to detect) [KD1978][Barro1989][Amann2005]:
    # over the last vf_window_s, band-passed to vf_band_hz (VF's energy lies at 3-7 Hz; [Amann2005]
    # band-limit the ECG before every algorithm they compare), the VF-filter leakage below
    # vf_leak_max (a nearly periodic wave), the amplitude spectrum concentrated around its peak
    # (0.7-1.4 x the peak frequency holds more than vf_conc_min of the 0.5 Hz - 20 x peak
    # amplitude) and the peak at >= vf_freq_min_hz (150/min); raised after vf_sustain_s, cleared
    # after vf_clear_s without. Limits set on MIT-BIH DS1 (tuning history).
    vf_window_s: float = 4.0
    vf_band_hz: tuple[float, float] = (0.5, 30.0)
    vf_leak_max: float = 0.6
    vf_conc_min: float = 0.25
    vf_freq_min_hz: float = 2.5
    vf_sustain_s: float = 2.0
    vf_clear_s: float = 4.0
    # HR alarm limits, adjustable [IEC][EC13]: adult defaults 50/120 bpm, "extreme" limits 40/150
    # escalate to high; the HR must stay beyond a limit for rate_sustain_s, and comes back within
    # it rate_hysteresis_bpm inside the limit.
    brady_bpm: float = 50.0
    brady_extreme_bpm: float = 40.0
    tachy_bpm: float = 120.0
    tachy_extreme_bpm: float = 150.0
    rate_sustain_s: float = 10.0
    rate_hysteresis_bpm: float = 5.0
    # HR averaging [EC13]: 60 / mean of the most recent RR intervals (up to hr_rr_max) within
    # hr_window_s.
    hr_rr_max: int = 8
    hr_window_s: float = 10.0
    # AF: irregularity of the last af_window N/S-to-N/S RR intervals (ventricular beats and their
    # compensatory pauses excluded; at least af_min_intervals), af_trim of them dropped at each
    # end: normalised RMSSD, CoV and Shannon entropy above their limits [Dash2009]
    # (models.ecg.rhythm, limits set on DS1 reference beats) for af_sustain_s; clears when nRMSSD
    # and CoV, or the entropy, fall below af_clear_factor x their limits.
    af_window: int = rhythm.WINDOW
    af_min_intervals: int = rhythm.MIN_INTERVALS
    af_trim: float = rhythm.TRIM
    af_nrmssd: float = rhythm.AF_NRMSSD
    af_cov: float = rhythm.AF_COV
    af_she: float = rhythm.AF_SHE
    af_sustain_s: float = 10.0
    af_clear_factor: float = 0.7
    # The beats whose RR intervals measure the atrial rhythm [Petrenas2015]: conducted beats, N,
    # and fusion beats, F (a fusion beat is a conducted beat that meets a ventricular one: it
    # comes when the atrial impulse reaches the ventricles, so its timing is the atrial
    # rhythm's). An interval into or out of any other beat (V, S, Q) is left out. Held out on
    # DS1 (4-fold, two-lead), F included: AF duration Se 89.4 -> 94.9 %, +P 76.1 -> 76.7 %, all
    # of it in 201, whose aberrated AF beats the fold model labels F (155 in its first AF
    # episode); one record's evidence, the rationale is the timing.
    af_rr_labels: tuple[str, ...] = ("N", "F")
    # Atrial flutter with variable AV block is not AF [ACC2015] (models.ecg.measures.
    # flutter_lattice): no AF verdict when at least afl_fit of the (trimmed) AF intervals lie
    # within afl_tol_s of whole multiples (2 to afl_max_block) of one flutter cycle in
    # afl_cycle_s (250-350 flutter waves/min, widened to 220-350), with two blocks or more.
    # Fixed from the flutter definition, not tuned on data.
    afl_cycle_s: tuple[float, float] = (0.17, 0.27)
    afl_tol_s: float = 0.025
    afl_fit: float = 0.8
    afl_max_block: int = 4
    # Frequent PVCs: >= pvc_per_min V beats in pvc_window_s, the usual "PVCs/min high" monitor
    # default ([AHA2017] discusses PVC-burden monitoring; Lown grade 2 = > 30 PVCs/h); clears
    # under pvc_clear_per_min.
    pvc_per_min: int = 10
    pvc_clear_per_min: int = 7
    pvc_window_s: float = 60.0
    # Leads off [IEC]: flat line, peak-to-peak < flat_p2p_uv over the last flat_window_s.
    flat_window_s: float = 2.0
    flat_p2p_uv: float = 20.0
    # Unanalysable noise over the last noise_window_s: power in noise_band_hz[1]-[2] Hz over power
    # in [0]-[1] Hz above noise_hf_ratio (a clean ECG keeps its energy below 40 Hz), with enough
    # of it (RMS above noise_hf_rms_uv: baseline noise in a pause is not "noisy"); limit set on
    # DS1.
    noise_window_s: float = 3.0
    noise_hf_ratio: float = 0.3
    noise_hf_rms_uv: float = 30.0
    noise_band_hz: tuple[float, float, float] = (1.0, 40.0, 150.0)
    # In-band noise [PT1985][Li2008] (what a monitor's 0.5-40 Hz monitoring filter, IEC
    # 60601-2-27, leaves in): after a noise_inband_hz low-pass, the median |slope| of the last
    # noise_window_s above noise_slope_ratio x the 99th percentile |slope| of the rolling signal
    # (its QRS upstrokes), as Pan-Tompkins weighs noise peaks against signal peaks, and at least
    # noise_slope_min_uv_ms (so a quiet baseline with no QRS is not noise); limits set on DS1.
    # It also rises in fast multiform VT, so it only alarms and never suspends analysis. The
    # noise alarm is raised after noise_sustain_s and cleared after noise_clear_s clean.
    noise_inband_hz: float = 40.0
    noise_slope_ratio: float = 0.1
    noise_slope_min_uv_ms: float = 2.0
    noise_sustain_s: float = 4.0
    noise_clear_s: float = 4.0
    # Feed stopped: no chunk received for feed_timeout_s (wall clock).
    feed_timeout_s: float = 10.0
    # Beat memory kept in the state (bounded).
    keep_beats_s: float = 60.0
    keep_beats_max: int = 400


DEFAULT_RULES = RuleConfig()

__all__ = ["DEFAULT_RULES", "RuleConfig"]
