"""ECG chunk validation: every rejection carries its reason code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from wardwatch.records.ecg import ecg_sequence_check, ecg_validate
from wardwatch.records.errors import InvalidRecord

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def chunk(**changes):
    d = {
        "patient_id": "P1",
        "bed": "ICU-01",
        "ts": T0.isoformat(),
        "fs_hz": 360,
        "seq": 5,
        "lead": "MLII",
        "ecg_uv": [10, -20, 1500, -300] * 90,
    }
    d.update(changes)
    return {k: v for k, v in d.items() if v is not ...}


def code(raw, **kw) -> str:
    with pytest.raises(InvalidRecord) as e:
        ecg_validate(raw if isinstance(raw, (bytes, str)) else json.dumps(raw), **kw)
    assert e.value.reason.startswith(e.value.code + ": ")
    return e.value.code


def test_valid_chunk_round_trips():
    c = ecg_validate(json.dumps(chunk()), key="P1")
    assert (c.n, c.fs_hz, c.seq, c.lead) == (360, 360.0, 5, "MLII")
    assert c.duration_s == pytest.approx(1.0)
    assert c.ecg_mv()[2] == pytest.approx(1.5)
    assert ecg_validate(json.dumps(c.to_dict())).ecg_uv.tolist() == c.ecg_uv.tolist()
    assert c.lead2 is None and c.ecg2_mv() is None and "ecg2_uv" not in c.to_dict()


def test_chunk_with_a_second_lead_round_trips():
    c = ecg_validate(json.dumps(chunk(lead2="V1", ecg2_uv=[-5, 7, 400, -90] * 90)), key="P1")
    assert c.lead2 == "V1" and c.ecg2_uv.size == c.n and c.ecg2_mv()[2] == pytest.approx(0.4)
    again = ecg_validate(json.dumps(c.to_dict()))
    assert again.lead2 == "V1" and again.ecg2_uv.tolist() == c.ecg2_uv.tolist()


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1, 2]", "malformed"),
        (b'{"patient_id": NaN}', "malformed"),
        (chunk(lead=...), "missing_field"),
        (chunk(ecg_uv=...), "missing_field"),
        (chunk(ecg_mv=[0.1]), "unknown_field"),
        (chunk(ts="yesterday"), "bad_timestamp"),
        (chunk(ts="2026-11-25T10:00:00"), "bad_timestamp"),
        (chunk(fs_hz=50), "bad_fs"),
        (chunk(fs_hz="360"), "malformed"),
        (chunk(seq=-1), "malformed"),
        (chunk(lead="XYZ"), "unknown_lead"),
        (chunk(ecg_uv=[]), "empty_chunk"),
        (chunk(ecg_uv=[0] * 360 * 6), "chunk_too_long"),
        (chunk(ecg_uv=[0.5, 0.2]), "malformed"),
        (chunk(ecg_uv=[0, 25_000, 0]), "amplitude_impossible"),
        (chunk(ecg_uv=[0, -(2**63), 0]), "amplitude_impossible"),  # abs() of it is negative
        (chunk(ecg_uv=[0, 10**30, 0]), "amplitude_impossible"),  # beyond int64 (found by the fuzz)
        (chunk(lead2="V1"), "lead2_mismatch"),
        (chunk(ecg2_uv=[1] * 360), "lead2_mismatch"),
        (chunk(lead2="V1", ecg2_uv=[1] * 359), "lead2_mismatch"),
        (chunk(lead2="MLII", ecg2_uv=[1] * 360), "unknown_lead"),
        (chunk(lead2="V9", ecg2_uv=[1] * 360), "unknown_lead"),
        (chunk(lead2="V1", ecg2_uv=[0.5] * 360), "malformed"),
        (chunk(lead2="V1", ecg2_uv=[0, 25_000] * 180), "amplitude_impossible"),
    ],
)
def test_rejections_have_reasons(raw, expected):
    assert code(raw) == expected


def test_key_mismatch_and_future():
    assert code(chunk(), key="P2") == "key_mismatch"
    assert code(chunk(ts=(T0 + timedelta(days=3)).isoformat()), now=T0) == "bad_timestamp"


def test_sequence_check():
    c = ecg_validate(json.dumps(chunk()))
    last = {"seq": 4, "end_t": c.t0, "fs_hz": 360.0}
    assert ecg_sequence_check(c, None).kind == "first"
    assert ecg_sequence_check(c, last).continuous
    gap = ecg_sequence_check(c, {**last, "seq": 1})
    assert (gap.kind, gap.missing, gap.continuous) == ("gap", 3, False)
    for last_seq, expected in ((5, "duplicate"), (9, "out_of_order")):
        with pytest.raises(InvalidRecord) as e:
            ecg_sequence_check(c, {**last, "seq": last_seq})
        assert e.value.code == expected
    with pytest.raises(InvalidRecord) as e:
        ecg_sequence_check(c, {**last, "fs_hz": 250.0})
    assert e.value.code == "fs_mismatch"
    # device restart: seq back to 0 with a later device time is a new stream, not out of order
    c0 = ecg_validate(json.dumps(chunk(seq=0, ts=(T0 + timedelta(seconds=30)).isoformat())))
    assert ecg_sequence_check(c0, {**last, "seq": 900}).kind == "restart"
