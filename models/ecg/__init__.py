"""ECG signal, beat-model and alarm core: pure code, no Kafka, no Faust.

- ``aami``: AAMI EC57 beat classes; ``qrs``: streaming QRS detector; ``beats``: per-patient beat
  extraction (``ECGBeatStream``); ``classify``: batched beat classifier and context labels;
  ``morphology`` and ``rhythm``: the patient-context corrections of the labels.
- ``filters``, ``signal_quality``, ``vf``, ``measures``: signal measures (leads off, noise, VF /
  flutter) and beat measures (HR, the AF rule's RR series); ``rule_config``: their thresholds.
- ``alarms``: one function per alarm rule and the engine that runs them; ``step``: THE ECG step
  over a batch of chunks of many patients (``ecg_step``), on the state of ``stream_state``,
  with the rolling signal of ``signal_buffer``; ``alarm_output``: alarm changes as alert
  conditions and points.
- ``train``, ``evaluate``, ``metrics``, ``robustness``: training and evaluation on WFDB records
  (they read files); ``nn``: the network definition.
"""
