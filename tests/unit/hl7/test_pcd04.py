"""PCD-04 ORU^R40 from alert events, and the MLLP transport's verdicts against a real receiver."""

import hl7
import pytest

from wardwatch.hl7.pcd04 import STATES, R40Transport, build_oru_r40

EVENT = {
    "event_id": "ev-123",
    "alert_id": "al-9",
    "type": "raised",
    "patient_id": "P7",
    "bed": "W1-07",
    "source": "news2",
    "priority": "high",
    "ts": "2026-12-05T10:00:00+00:00",
    "onset_ts": "2026-12-05T09:58:30+01:00",
    "message": "NEWS2 7: urgent | review",
    "evidence": {"score": 7, "components": {"rr": 3}},
}


def _obx(msg, ref):
    for seg in msg.segments("OBX"):
        if str(seg(3)).split("^")[1] == ref:
            return seg
    raise AssertionError(ref)


@pytest.mark.parametrize("kind", sorted(STATES))
def test_every_event_type_becomes_an_oru_r40_with_phase_state_and_priority(kind):
    msg = hl7.parse(build_oru_r40({**EVENT, "type": kind}))
    assert str(msg.segment("MSH")(9)) == "ORU^R40^ORU_R40" and str(msg.segment("MSH")(10)) == "ev-123"
    assert str(msg.segment("PID")(3)).startswith("P7^") and str(msg.segment("PV1")(3)) == "W1-07"
    assert (
        str(msg.segment("OBR")(2)) == "al-9^WARDWATCH" and str(msg.segment("OBR")(7)) == "20261205095830+0100"
    )
    phase, state, inactivation = STATES[kind]
    assert str(_obx(msg, "MDC_ATTR_EVENT_PHASE")(5)) == phase
    assert str(_obx(msg, "MDC_ATTR_ALARM_STATE")(5)) == state
    assert str(_obx(msg, "MDC_ATTR_ALARM_INACTIVATION_STATE")(5)) == inactivation
    assert str(_obx(msg, "MDC_ATTR_ALARM_PRIORITY")(5)) == "PH"
    first = _obx(msg, "news2")
    assert str(first(5)) == "NEWS2 7: urgent \\F\\ review"  # the delimiter is escaped, not a field
    assert str(first(8)) == "PH" and str(first(14)) == "20261205100000+0000"
    assert str(_obx(msg, "MDC_ATTR_ALARM_EVIDENCE")(5)) == 'score=7; components={"rr":3}'


def test_acknowledged_names_who():
    msg = build_oru_r40({**EVENT, "type": "acknowledged", "by": "nurse1", "by_name": "Ann Nurse"})
    assert "by Ann Nurse" in msg and "|acknowledged|" in msg


@pytest.mark.parametrize("bad", [{"type": "exploded"}, {"patient_id": ""}, {"bed": None}])
def test_an_event_without_what_the_message_needs_is_refused(bad):
    with pytest.raises(ValueError):
        build_oru_r40({**EVENT, **bad})


def test_transport_verdicts_against_a_real_receiver(mllp_receiver):
    rx = mllp_receiver(["AA", "AE", "drop", "AR"])
    t = R40Transport("127.0.0.1", rx.port, timeout_s=5)
    outcomes = [t.attempt("ev-123", b"{}", EVENT, n) for n in (1, 2, 3, 4)]
    assert [(o.verdict, o.status) for o in outcomes] == [
        ("delivered", "AA"),
        ("refused", "AE"),
        ("retry", None),
        ("refused", "AR"),
    ]
    assert len(rx.received) == 4 and all("ORU^R40" in m for m in rx.received)
    assert t.attempt("ev-x", b"{}", {**EVENT, "type": "nope"}, 1).verdict == "refused"  # never sent
    assert len(rx.received) == 4


def test_transport_retries_when_nobody_listens():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    o = R40Transport("127.0.0.1", port, timeout_s=2).attempt("ev-123", b"{}", EVENT, 1)
    assert o.verdict == "retry" and o.error == "no_ack"
