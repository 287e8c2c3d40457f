"""ADT^A01 / ADT^A03 -> ``admissions`` records (wardwatch.hl7.adt). The messages follow the
ADT^A01 example of HL7 v2.5 chapter 3 (section 3.5.1, "Admit/visit notification": MSH, EVN, PID,
PV1 of patient PATID1234 "EVERYMAN^ADAM", born 19610615, male), with UTC offsets on the times (the
gateway refuses a time without one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from wardwatch.hl7.adt import ADT_TAKEN, map_adt
from wardwatch.hl7.pcd01 import ORU_R01, HL7Error, check_header, parse
from wardwatch.records.admissions import admission_validate, discharge_validate

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
TAKEN = ORU_R01 | ADT_TAKEN


def adt(
    event: str, pid_fields: str = "19610615|M", pv1_tail: str = "", evn_time: str = "202612051126-0500"
) -> str:
    return "\r".join(
        [
            "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|WARDWATCH|ICU|202612051126-0500|SECURITY|"
            f"ADT^{event}^ADT_A01|MSG00001|P|2.5",
            f"EVN|{event}|{evn_time}",
            "PID|1||PATID1234^5^M11^ADT1^MR^GOOD HEALTH HOSPITAL~123456789^^^USSSA^SS|"
            f"|EVERYMAN^ADAM^A^III||{pid_fields}",
            f"PV1|1|I|2000^2012^01||||004777^ATTEND^AARON^A|||SUR||||ADM|A0|{pv1_tail}",
        ]
    )


def mapped(text: str):
    msg = parse(text)
    control, kind = check_header(msg, TAKEN)
    assert kind in ADT_TAKEN
    return map_adt(msg, control, kind[1], now=NOW)


def test_an_admission_becomes_the_admission_record():
    m = mapped(adt("A01"))
    [(topic, key, rec)] = m.records()
    assert (topic, key, m.control_id) == ("admissions", "PATID1234", "MSG00001")
    # EVN-2 (no PV1-44): 2026-12-05 11:26 at -05:00; born 1961-06-15: 65 years old
    assert rec == {
        "patient_id": "PATID1234",
        "admit_ts": "2026-12-05T11:26:00-05:00",
        "age_years": 65,
        "sex": "M",
    }
    assert admission_validate(json.dumps(rec).encode(), key="PATID1234", now=NOW).age_years == 65


def test_pv1_44_admit_time_comes_first_and_age_counts_whole_years():
    pv1 = "|".join([""] * 28) + "|202612040700+0000"  # PV1-44
    m = mapped(adt("A01", pid_fields="19611205|F", pv1_tail=pv1))
    rec = m.admissions[0]
    assert rec["admit_ts"] == "2026-12-04T07:00:00+00:00"
    assert (rec["age_years"], rec["sex"]) == (64, "F")  # the birthday is the day after


def test_a_discharge_becomes_the_discharge_record_with_its_disposition():
    pv1 = "|".join([""] * 20) + "|01^Discharged to home" + "|" * 8 + "|202612051400+0100"  # PV1-36, PV1-45
    m = mapped(adt("A03", pv1_tail=pv1))
    [(topic, key, rec)] = m.records()
    assert (topic, key) == ("admissions", "PATID1234")
    assert rec == {
        "patient_id": "PATID1234",
        "discharge_ts": "2026-12-05T14:00:00+01:00",
        "reason": "HL7 discharge disposition: Discharged to home",
    }
    assert discharge_validate(json.dumps(rec).encode(), key="PATID1234", now=NOW).reason


@pytest.mark.parametrize(
    "text, hl7_code, ack, code, location",
    [
        (adt("A01", pid_fields="19610615|U"), 103, "AE", "bad_value", "PID^1^8^1"),
        (adt("A01", pid_fields="|M"), 101, "AE", "missing_field", "PID^1^7^1"),
        (adt("A01", pid_fields="2016|M"), 102, "AE", "malformed", "PID^1^7^1"),
        (adt("A01", pid_fields="20200101|M"), 207, "AE", "out_of_range", "PID^1^7^1"),  # a child of 6
        (adt("A01", evn_time="202612051126"), 102, "AE", "bad_timestamp", "EVN^1^2^1"),
        (adt("A08"), 201, "AR", "unsupported", "MSH^1^9^1^2"),
        (adt("A01").replace("ADT^A01^ADT_A01", "ORM^O01"), 200, "AR", "unsupported", "MSH^1^9^1"),
    ],
)
def test_what_cannot_be_used_is_refused_with_its_hl7_error(text, hl7_code, ack, code, location):
    with pytest.raises(HL7Error) as e:
        mapped(text)
    assert (e.value.hl7_code, e.value.ack, e.value.code, e.value.location) == (hl7_code, ack, code, location)


def test_an_observation_message_still_maps_as_pcd01_only():
    """map_message takes ORU^R01 only: an ADT message handed to it is refused (the gateway
    routes ADT to map_adt)."""
    from wardwatch.hl7.pcd01 import map_message

    with pytest.raises(HL7Error) as e:
        map_message(adt("A01"), now=NOW)
    assert e.value.hl7_code == 200 and "ORU^R01" in str(e.value)
