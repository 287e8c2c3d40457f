"""The HL7 v2 / IHE PCD gateway: ORU^R01 (PCD-01) in over MLLP, alerts out as ORU^R40 (PCD-04).

- :mod:`.codes`: the MDC observation and unit codes we map, with their sources; HL7 table 0357.
- :mod:`.pcd01`: ORU^R01 -> vitals readings and ECG chunks, the ACK/ERR (pure).
- :mod:`.build`: vitals readings and ECG chunks -> ORU^R01 (the simulator's, replay's and
  bench's messages; pure).
- :mod:`.pcd04`: alert event -> ORU^R40 (pure).
- :mod:`.gateway`: ``wardwatch gateway hl7``, the asyncio MLLP listener producing to Kafka.
- :mod:`.mllp`: a small MLLP client (send one message, wait for its ACK) for the simulator and
  the alert sender.
- :mod:`.simulate`: the synthetic ward and the ECG replay as PCD-01 monitors.
"""
