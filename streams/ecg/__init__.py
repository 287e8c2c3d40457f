"""ECG stream wiring: wire format and validation (``records``), ECG strip rendering (``strip``) and
the thin Faust agent (``agents``). The clinical step it runs is :mod:`models.ecg.step`."""
