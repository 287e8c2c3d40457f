import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.vitals import MEASUREMENTS, vitals_order_check, vitals_validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GOOD = {
    "patient_id": "P1",
    "bed": "B1",
    "ts": "2026-11-25T11:59:00+00:00",
    "hr_bpm": 72,
    "spo2_pct": 97,
    "rr_bpm": 14,
    "sbp_mmhg": 124,
    "dbp_mmhg": 78,
    "temp_c": 36.8,
    "o2": "air",
    "acvpu": "A",
}


def raw(**changes):
    d = {**GOOD, **changes}
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def reason(data: bytes, key="P1") -> str:
    with pytest.raises(InvalidRecord) as e:
        vitals_validate(data, key=key, now=NOW)
    return e.value.reason


def test_good_reading():
    r = vitals_validate(raw(), key="P1", now=NOW)
    assert r.hr_bpm == 72.0 and r.temp_c == 36.8 and r.o2 == "air" and r.spo2_scale == 1
    assert r.ts.tzinfo is not None


def test_partial_reading_is_fine():
    r = vitals_validate(
        json.dumps({"patient_id": "P1", "bed": "B1", "ts": GOOD["ts"], "hr_bpm": 80}).encode(),
        key="P1",
        now=NOW,
    )
    assert r.hr_bpm == 80 and r.sbp_mmhg is None


@pytest.mark.parametrize(
    "data,code,expected",
    [
        (b"{not json", "malformed", "not JSON"),
        (b"[1, 2]", "malformed", "expected a JSON object"),
        (b'{"patient_id": "P1", "hr_bpm": NaN}', "malformed", "non-finite"),
        (raw(temp_f=99.5), "wrong_unit", "send temp_c"),
        (raw(spo2=0.97, spo2_pct=...), "wrong_unit", "send spo2_pct"),
        (raw(colour="blue"), "unknown_field", "unknown fields"),
        (raw(patient_id=""), "malformed", "patient_id"),
        (raw(patient_id="P2"), "key_mismatch", "key does not match"),
        (raw(bed=None), "malformed", "bed"),
        (raw(ts="yesterday"), "bad_timestamp", "not ISO-8601"),
        (raw(ts="2026-11-25T11:59:00"), "bad_timestamp", "no timezone"),
        (raw(ts="2026-11-25T13:00:00+00:00"), "bad_timestamp", "in the future"),
        (raw(hr_bpm="72"), "malformed", "must be a number"),
        (raw(hr_bpm=True), "malformed", "must be a number"),
        (raw(hr_bpm=420), "out_of_range", "outside the physiological range"),
        (raw(hr_bpm=-5), "out_of_range", "outside the physiological range"),
        (raw(spo2_pct=104), "out_of_range", "outside the physiological range"),
        (raw(spo2_pct=0.95), "wrong_unit", "looks like a fraction"),
        (raw(temp_c=98.6), "wrong_unit", "looks like Fahrenheit"),
        (raw(temp_c=12.0), "out_of_range", "outside the physiological range"),
        (raw(sbp_mmhg=80, dbp_mmhg=90), "out_of_range", "not below sbp_mmhg"),
        (raw(spo2_scale=3), "bad_value", "spo2_scale"),
        (raw(o2="nasal"), "bad_value", "o2 must be"),
        (raw(acvpu="X"), "bad_value", "acvpu must be"),
    ],
)
def test_rejections_have_codes_and_reasons(data, code, expected):
    got = reason(data)
    assert got.startswith(f"{code}: ") and expected in got


def test_no_measurement_rejected():
    data = json.dumps({"patient_id": "P1", "bed": "B1", "ts": GOOD["ts"]}).encode()
    assert "no measurement" in reason(data)


def test_order_check():
    r1 = vitals_validate(raw(), key="P1", now=NOW)
    vitals_order_check(r1, None)  # first reading
    later = vitals_validate(raw(ts="2026-11-25T11:59:01+00:00"), key="P1", now=NOW)
    vitals_order_check(later, r1.ts.isoformat(), r1.to_dict())
    with pytest.raises(InvalidRecord, match="duplicate"):
        vitals_order_check(r1, r1.ts.isoformat(), r1.to_dict())
    other = vitals_validate(raw(hr_bpm=90), key="P1", now=NOW)
    with pytest.raises(InvalidRecord, match="conflicting"):
        vitals_order_check(other, r1.ts.isoformat(), r1.to_dict())
    with pytest.raises(InvalidRecord, match="out_of_order: 60s older"):
        vitals_order_check(r1, (r1.ts + timedelta(seconds=60)).isoformat(), None)


def test_mean_arterial_pressure_is_optional_ranged_and_between_its_pressures():
    assert vitals_validate(raw(map_mmhg=93), key="P1", now=NOW).map_mmhg == 93.0
    assert vitals_validate(raw(map_mmhg=...), key="P1", now=NOW).map_mmhg is None
    only = json.dumps({"patient_id": "P1", "bed": "B1", "ts": GOOD["ts"], "map_mmhg": 64}).encode()
    assert vitals_validate(only, key="P1", now=NOW).measurements() == {"map_mmhg": 64.0}
    for bad, code, text in [
        (raw(map_mmhg=12), "out_of_range", "outside the physiological range"),
        (raw(map_mmhg=251, sbp_mmhg=..., dbp_mmhg=...), "out_of_range", "outside the physiological range"),
        (raw(map_mmhg=130), "out_of_range", "not between"),  # above sbp 124
        (raw(map_mmhg=70), "out_of_range", "not between"),  # below dbp 78
        (raw(map=93), "wrong_unit", "send map_mmhg"),
    ]:
        with pytest.raises(InvalidRecord) as e:
            vitals_validate(bad, key="P1", now=NOW)
        assert e.value.code == code and text in e.value.reason


def test_the_kept_iso_time_is_the_readings_own_and_changes_nothing_else():
    r = vitals_validate(raw(ts="2026-11-25T12:59:00.250+01:00"), key="P1", now=NOW)
    before = r.to_dict()
    assert r.ts_iso == r.ts.isoformat() == "2026-11-25T12:59:00.250000+01:00" == before["ts"]
    assert r.ts_iso is r.ts_iso  # made once
    again = vitals_validate(raw(ts="2026-11-25T12:59:00.250+01:00"), key="P1", now=NOW)
    assert r == again and hash(r) == hash(again)  # equality is the fields', read or not
    assert r.to_dict() == before and list(before) == list(again.to_dict())
    moved = dataclasses.replace(r, ts=r.ts + timedelta(seconds=1))
    assert moved.ts_iso == "2026-11-25T12:59:01.250000+01:00"
    assert r.measurements() == {k: v for k, v in before.items() if k in MEASUREMENTS and v is not None}
