"""The ``alerts.ack`` contract (wardwatch.records.actions): each way a message can be wrong has
its code and field; who acts is never read from the message."""

from __future__ import annotations

import json

import pytest

from wardwatch.records.actions import SILENCE_DEFAULT_S, action_validate
from wardwatch.records.errors import InvalidRecord

OK = {"patient_id": "P1", "alert_id": "al-1", "action": "acknowledge", "token": "v1.a.b"}


def raw(**over) -> bytes:
    msg = {**OK, **over}
    return json.dumps({k: v for k, v in msg.items() if v is not ...}).encode()


def test_a_valid_ack_and_silence():
    a = action_validate(raw(reason="  reviewed  ", by="mallory"), key="P1")
    assert (a.patient_id, a.alert_id, a.action, a.token, a.reason, a.duration_s) == (
        "P1",
        "al-1",
        "acknowledge",
        "v1.a.b",
        "reviewed",
        None,
    )
    assert not hasattr(a, "by")  # a "by" in the message is ignored: the token says who
    assert action_validate(raw(action="silence")).duration_s == SILENCE_DEFAULT_S
    assert action_validate(raw(action="silence", duration_s=600)).duration_s == 600.0
    assert action_validate(raw(token=...)).token is None  # the consumer rejects it, not validation


@pytest.mark.parametrize(
    ("msg", "code", "field"),
    [
        (b"{nope", "malformed", None),
        (raw(patient_id=...), "missing_field", "patient_id"),
        (raw(alert_id=...), "missing_field", "alert_id"),
        (raw(alert_id=7), "malformed", "alert_id"),
        (raw(action="mute"), "bad_value", "action"),
        (raw(action="silence", duration_s=0), "out_of_range", "duration_s"),
        (raw(action="silence", duration_s=601), "out_of_range", "duration_s"),
        (raw(action="silence", duration_s="60"), "malformed", "duration_s"),
        (raw(action="silence", duration_s=True), "malformed", "duration_s"),
        (raw(duration_s=60), "malformed", "duration_s"),
        (raw(reason=5), "malformed", "reason"),
        (raw(reason="x" * 501), "malformed", "reason"),
    ],
)
def test_bad_messages(msg, code, field):
    with pytest.raises(InvalidRecord) as e:
        action_validate(msg, key="P1")
    assert (e.value.code, e.value.field) == (code, field)


def test_the_key_must_be_the_patient():
    with pytest.raises(InvalidRecord) as e:
        action_validate(raw(), key="P2")
    assert (e.value.code, e.value.field) == ("key_mismatch", "patient_id")
