"""Message schemas and their validation: the core vocabulary every layer shares.

Each module is one record type on one topic: bytes in, a typed record out, or one
:class:`~wardwatch.records.errors.InvalidRecord` with a machine-readable ``code`` and the
offending ``field`` (what the dead-letter record carries). No Faust, no Kafka, no I/O.

=====================  ==================================================  ===================
module                 record                                              topic
=====================  ==================================================  ===================
``vitals``             :class:`VitalsReading`, ``vitals_validate``         ``vitals``
``ecg``                :class:`ECGChunk`, ``ecg_validate``                 ``ecg``
``labs``               :class:`LabResult`, ``labs_validate``               ``labs``
``admissions``         :class:`Admission`, ``admission_validate``          ``admissions``
``conditions``         :class:`Condition` (an alert source's state)        ``alerts.conditions``
``points``             ``point()`` (a time-series point)                   ``influx.points``
``deadletter``         ``deadletter_record()`` (bad input + reason)        ``deadletter``
``wire``               JSON decoding and field checks shared by the above
``errors``             :class:`InvalidRecord` and its reason codes
=====================  ==================================================  ===================
"""
