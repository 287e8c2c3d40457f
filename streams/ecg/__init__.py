"""ECG stream: wire format and validation (``records``), alarm rules (``rules``), ECG strips
(``strip``), per-patient state steps (``state``) and the thin Faust agent (``agents``)."""
