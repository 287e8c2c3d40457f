"""ECG signal and beat-model core: AAMI classes, streaming QRS detection, beat classifier.

Pure code: no Kafka, no Faust, no file or network I/O in the processing modules
(``aami``, ``qrs``, ``features``, ``pipeline``). ``train`` and ``evaluate`` read WFDB records.
"""
