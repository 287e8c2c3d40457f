"""The one validation error of every input: a machine-readable code, the field, a reason."""

from __future__ import annotations

#: Reason codes, shared by every topic's validation (the dead-letter record's ``code``).
CODES = (
    # any record
    "malformed",  # not UTF-8 JSON, not an object, NaN/Infinity, a field of the wrong type
    "missing_field",  # a required field is absent
    "unknown_field",  # a field not in the format
    "key_mismatch",  # the Kafka key differs from patient_id (it sits on another partition)
    "bad_timestamp",  # not ISO-8601, no timezone, or too far in the future
    "wrong_unit",  # a value in another unit (temp_f, SpO2 as a fraction, a lab's unit)
    "out_of_range",  # outside what can be measured on a living adult
    "bad_value",  # not one of the allowed values (o2, ACVPU, SpO2 scale, sex, lab test)
    "no_measurement",  # a reading with nothing in it
    # one patient's stream
    "duplicate",  # the same record again (a re-delivery)
    "conflicting",  # same device time as the last one, other content
    "out_of_order",  # older than the last accepted record (late data)
    # ECG chunks (streams/ecg: wardwatch.records.ecg)
    "bad_fs",
    "unknown_lead",
    "lead2_mismatch",
    "empty_chunk",
    "chunk_too_long",
    "amplitude_impossible",
    "fs_mismatch",
    # operator actions (alerts.ack): wardwatch.identity
    "unauthenticated",  # no user token, or one that does not verify or has expired
    "forbidden",  # the user's role may not take this action
    # a destination refused the record as bad data (InfluxDB answered HTTP 400)
    "rejected",
    # HL7 gateway (wardwatch.hl7): a message type, event or version it does not take (ACK AR)
    "unsupported",
    # an output of the record can never be sent: the codec refuses it or Kafka finds it too
    # large (streams.delivery.Undeliverable; the HL7 gateway's records)
    "undeliverable",
)


class InvalidRecord(ValueError):
    """A record that goes to the dead-letter topic.

    Parameters
    ----------
    code : str
        One of :data:`CODES`.
    message : str
        Human-readable detail (no patient id, no sample values).
    field : str, optional
        The offending field, when one is to blame.

    Examples
    --------
    >>> e = InvalidRecord("wrong_unit", "temp_f is not accepted: send temp_c", "temp_f")
    >>> e.reason, e.field
    ('wrong_unit: temp_f is not accepted: send temp_c', 'temp_f')
    """

    def __init__(self, code: str, message: str, field: str | None = None):
        if code not in CODES:
            raise ValueError(f"unknown reason code {code!r}; valid: {CODES}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field

    @property
    def reason(self) -> str:
        """``"<code>: <message>"``, the dead-letter ``reason`` field."""
        return f"{self.code}: {self.message}"
