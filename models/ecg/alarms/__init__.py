"""ECG alarm rules over the classified beat stream and the signal: pure functions, JSON state.

One function per alarm rule (:mod:`models.ecg.alarms.rules`, each citing its source), run in
order over each chunk by :func:`rules_step` (:mod:`models.ecg.alarms.engine`); the state and the
:class:`AlarmChange` output in :mod:`models.ecg.alarms.state`; thresholds in
:class:`models.ecg.rule_config.RuleConfig` (how the data-tuned ones were set:
``models/ecg/tuning_history.md``).

Physiological alarms (from beats: time + AAMI class N/S/V/F/Q):

==================  ========  =======  ====================================================
source              priority  latched  rule (defaults in :class:`RuleConfig`)
==================  ========  =======  ====================================================
``ecg.asystole``    high      yes      no beat for >= 4 s
``ecg.vtach``       high      yes      >= 3 consecutive V beats at >= 100 bpm (not under VF)
``ecg.vfib``        high      yes      VF/flutter waveform (from the signal, not beats) for 2 s
``ecg.pause``       medium    no       no beat for >= 3 s (< asystole)
``ecg.brady``       medium    no       HR < 50 bpm sustained 10 s (high when < 40 bpm)
``ecg.tachy``       medium    no       HR > 120 bpm sustained 10 s (high when > 150 bpm)
``ecg.afib``        medium    no       irregular, disordered N/F RR over 30 intervals, 10 s;
                                       not flutter with variable block; onset/offset reported
``ecg.pvc_burden``  low       no       >= 10 V beats in the last 60 s
==================  ========  =======  ====================================================

Technical alarms (the equipment / signal, not the patient):

=====================  ========  ===========================================================
``ecg.leads_off``      medium    flat line: peak-to-peak < 20 uV over the last 2 s
``ecg.noise``          medium    for 4 s, either unanalysable: 40-150 Hz / 1-40 Hz power > 0.3
                      / low     (and 40-150 Hz RMS > 30 uV); or (low) noisy inside the ECG band
                                 (what a monitor's 0.5-40 Hz filter leaves): the median slope of
                                 the last 3 s > 0.1 x the QRS slope (99th percentile over 10 s)
                                 and >= 2 uV/ms, analysis continues; never while VF measures fire
``ecg.feed_stopped``   medium    no chunk received for 10 s (wall clock, agent timer)
=====================  ========  ===========================================================

While the current signal is flat or unanalysable, rhythm analysis is suspended (beats found in it are
not analysed, and no asystole/pause is declared), as bedside monitors suspend arrhythmia
analysis during "leads off" / "cannot analyse ECG" (IEC 60601-2-27 requires the monitor to
indicate when it cannot analyse; a false asystole on a disconnected lead is the classic false
alarm, Sandau et al. 2017, section "Alarm management"). When analysis resumes, timers restart.
In-band noise only raises the alarm (its measure also rises in fast wide-QRS VT, so it must
not hide the rhythm; the alarm tells staff that alarms may be false and the electrodes need
attention). A VF / flutter waveform is the patient, not noise: while the VF measures are
positive the signal is neither noisy nor unanalysable, and the VF rule runs whether or not
the signal is noisy (the in-band measure cannot tell coarse VF from noise by itself).

Every rule emits an :class:`AlarmChange` only when its condition starts, changes priority or
ends; :func:`models.ecg.alarm_output.alarm_condition` turns changes into alert ``Condition`` records.
An alarm still on a minute after its last change is sent again, marked ``reassert``
(:func:`alarm_reassertions`, called by the ECG step): not a change, it heals a raise or rise the
alert component never received.
All state is a plain dict (JSON-serialisable, :class:`RuleState`) kept per patient in the
ECG stream state.

References
----------
- Sandau KE, Funk M, Auerbach A, et al. Update to Practice Standards for Electrocardiographic
  Monitoring in Hospital Settings. A Scientific Statement from the American Heart Association.
  Circulation 136:e273-e344 (2017). [AHA2017]
- IEC 60601-2-27:2011, particular requirements for ECG monitoring equipment (alarm conditions
  for asystole, ventricular tachycardia/fibrillation, HR limits; technical alarm for leads
  off). [IEC]
- ANSI/AAMI EC13:2002/(R)2007, cardiac monitors, heart rate meters and alarms (heart-rate
  averaging and alarm time requirements; asystole and tachycardia alarm tests). [EC13]
- ANSI/AAMI EC57:2012, testing and reporting performance of rhythm algorithms (VT episode: a
  run of >= 3 ventricular beats; MIT-BIH annotates every such run ``(VT``). [EC57]
- Dash S, Chon KH, Lu S, Raeder EA. Automatic real time detection of atrial fibrillation.
  Ann Biomed Eng 37(9):1701-1709 (2009) (normalised RMSSD > 0.1 and Shannon entropy >= 0.7
  of the RR series). [Dash2009]
- Petrenas A, Marozas V, Sornmo L. Low-complexity detection of atrial fibrillation in
  continuous long-term monitoring. Comput Biol Med 65:184-191 (2015) (ectopic beats removed
  from the RR series before the irregularity measure). [Petrenas2015]
- Page RL, Joglar JA, Caldwell MA, et al. 2015 ACC/AHA/HRS Guideline for the Management of
  Adult Patients With Supraventricular Tachycardia. Circulation 133:e506-e574 (2016) (atrial
  flutter: atrial rate about 250-350/min, 2:1 or variable AV conduction). [ACC2015]
- Kuo S, Dillman R. Computer detection of ventricular fibrillation. Computers in Cardiology
  1978:347-349 (the "VF filter": leakage of a notch filter tuned to the signal's mean period).
  [KD1978]
- Barro S, Ruiz R, Cabello D, Mira J. Algorithmic sequential decision-making in the frequency
  domain for life threatening ventricular arrhythmias and imitative artefacts: a diagnostic
  system. J Biomed Eng 11(4):320-328 (1989) (spectral concentration around the dominant VF
  frequency). Both as described and compared on MIT-BIH in Amann A, Tratnig R, Unterkofler K.
  Reliability of old and new ventricular fibrillation detection algorithms for automated
  external defibrillators. BioMed Eng OnLine 4:60 (2005). [Barro1989][Amann2005]
- Pan J, Tompkins WJ. A real-time QRS detection algorithm. IEEE Trans Biomed Eng
  32(3):230-236 (1985) (QRS found by its slope against running signal and noise levels).
  [PT1985]
- Li Q, Mark RG, Clifford GD. Robust heart rate estimation from multiple asynchronous noisy
  sources using signal quality indices and a Kalman filter. Physiol Meas 29(1):15-32 (2008)
  (ECG signal quality indices: in-band measures for noise a filter cannot remove). [Li2008]
"""

from models.ecg.alarms.engine import feed_check, feed_resumed, feed_silent, rules_restart, rules_step
from models.ecg.alarms.state import (
    LATCHED,
    RULES_VERSION,
    TECHNICAL,
    AlarmChange,
    RuleState,
    alarm_reassertions,
    rules_init,
)

__all__ = [
    "LATCHED",
    "RULES_VERSION",
    "TECHNICAL",
    "AlarmChange",
    "RuleState",
    "alarm_reassertions",
    "feed_check",
    "feed_resumed",
    "feed_silent",
    "rules_init",
    "rules_restart",
    "rules_step",
]
