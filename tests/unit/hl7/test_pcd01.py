"""PCD-01 (ORU^R01) mapping: a corpus in the shape of the IHE PCD Technical Framework examples
(MSH with the IHE_PCD_001 profile, PID, PV1, OBR, the MDS/VMD/CHAN containment OBX rows, then
the metric OBXs with MDC codes, units, result status and observation time), with exact records."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardwatch.hl7.build import build_oru_r01, build_waveform_r01
from wardwatch.hl7.pcd01 import HL7Error, ack, ack_code, map_message
from wardwatch.records.ecg import ecg_chunk_dict

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)

HEAD = (
    "MSH|^~\\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20261205095730-0500||ORU^R01^ORU_R01|MSG0001|P|2.6"
    "|||NE|AL||||||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
    "PID|||AB60001^^^AA1^PI||Brooks^Albert^^^^^L\r"
    "PV1||I|3 West ICU^3001^1\r"
    "OBR|1|AB12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|CD12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64"
    "|182777000^monitoring of patient^SNOMED-CT|||20261205095715-0500\r"
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0123456789ABCDEF^EUI-64\r"
)
T = "20261205095715-0500"


def obx(n, vtype, code, value, unit, ts=T, sub="1.1.1.1"):
    return f"OBX|{n}|{vtype}|{code}|{sub}|{value}|{unit}|||||R|||{ts}\r"


VITALS = HEAD + (
    "OBX|2||69798^MDC_DEV_ANALY_SAT_O2_VMD^MDC|1.1.0.0|||||||X\r"
    + obx(3, "NM", "150456^MDC_PULS_OXIM_SAT_O2^MDC", "98", "262688^MDC_DIM_PERCENT^MDC")
    + obx(4, "NM", "149530^MDC_PULS_OXIM_PULS_RATE^MDC", "61", "264864^MDC_DIM_BEAT_PER_MIN^MDC")
    + obx(5, "NM", "150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "120", "266016^MDC_DIM_MMHG^MDC")
    + obx(6, "NM", "150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "80", "266016^MDC_DIM_MMHG^MDC")
    + obx(7, "NM", "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "93", "266016^MDC_DIM_MMHG^MDC")
    + obx(8, "NM", "^MDC_TTHOR_RESP_RATE^MDC", "16", "264928^MDC_DIM_RESP_PER_MIN^MDC")
    + obx(9, "NM", "150344^MDC_TEMP^MDC", "98.6", "266560^MDC_DIM_FAHR^MDC")
    + obx(10, "NM", "152584^MDC_CONC_AWAY_CO2_ET^MDC", "38", "266016^MDC_DIM_MMHG^MDC")
)


def test_vitals_corpus_maps_to_one_exact_reading():
    m = map_message(VITALS, now=NOW)
    assert m.control_id == "MSG0001" and m.device == "0123456789ABCDEF"
    assert m.vitals == [
        {
            "patient_id": "AB60001",
            "bed": "3 West ICU-3001-1",
            "ts": "2026-12-05T09:57:15-05:00",
            "hr_bpm": 61.0,  # the pulse oximeter's pulse rate (no ECG heart rate in this message)
            "spo2_pct": 98.0,
            "rr_bpm": 16.0,
            "sbp_mmhg": 120.0,
            "dbp_mmhg": 80.0,
            "map_mmhg": 93.0,
            "temp_c": 37.0,  # 98.6 degF
        }
    ]
    assert m.ecg == []
    assert m.skipped == 3  # the MDS and VMD rows, and end-tidal CO2 (not mapped)
    assert [r[:2] for r in m.records()] == [("vitals", "AB60001")]


def test_ecg_heart_rate_wins_over_pulse_rates_and_kpa_is_converted():
    msg = HEAD + (
        obx(2, "NM", "149546^MDC_PULS_RATE_NON_INV^MDC", "70", "264864^MDC_DIM_BEAT_PER_MIN^MDC")
        + obx(3, "NM", "149530^MDC_PULS_OXIM_PULS_RATE^MDC", "71", "{beat}/min^^UCUM")
        + obx(4, "NM", "147842^MDC_ECG_HEART_RATE^MDC", "72", "264864^MDC_DIM_BEAT_PER_MIN^MDC")
        + obx(5, "NM", "^MDC_PRESS_CUFF_SYS^MDC", "16", "265987^MDC_DIM_KILO_PASCAL^MDC")
        + obx(6, "NM", "^MDC_PRESS_CUFF_DIA^MDC", "10.5", "kPa^^UCUM")
        + obx(7, "NM", "^MDC_TEMP_BODY^MDC", "37.2", "Cel^^UCUM")
        + obx(8, "NM", "150456", "97", "%^percent^UCUM")
    )
    (r,) = map_message(msg, now=NOW).vitals
    assert r["hr_bpm"] == 72.0
    assert r["sbp_mmhg"] == 120.0 and r["dbp_mmhg"] == 78.8  # 16 kPa, 10.5 kPa
    assert r["temp_c"] == 37.2 and r["spo2_pct"] == 97.0


def test_two_observation_times_give_two_readings_in_time_order():
    msg = HEAD + (
        obx(
            2,
            "NM",
            "150456^MDC_PULS_OXIM_SAT_O2^MDC",
            "95",
            "262688^MDC_DIM_PERCENT^MDC",
            "20261205095815-0500",
        )
        + obx(3, "NM", "150456^MDC_PULS_OXIM_SAT_O2^MDC", "96", "262688^MDC_DIM_PERCENT^MDC")
    )
    rs = map_message(msg, now=NOW).vitals
    assert [(r["ts"], r["spo2_pct"]) for r in rs] == [
        ("2026-12-05T09:57:15-05:00", 96.0),
        ("2026-12-05T09:58:15-05:00", 95.0),
    ]


def test_obr7_is_the_time_when_obx14_is_empty():
    msg = HEAD + obx(2, "NM", "150456^MDC_PULS_OXIM_SAT_O2^MDC", "95", "262688^MDC_DIM_PERCENT^MDC", ts="")
    assert map_message(msg, now=NOW).vitals[0]["ts"] == "2026-12-05T09:57:15-05:00"


def test_waveform_na_in_millivolts_with_its_sample_rate_becomes_one_second_chunks():
    samples = "^".join(f"{(i % 50) / 100:.2f}" for i in range(500))  # 2 s at 250 Hz, 0..0.49 mV
    msg = HEAD + (
        "OBX|2||69854^MDC_DEV_ECG_VMD^MDC|1.2.0.0|||||||X\r"
        + obx(
            3,
            "NA",
            "131330^MDC_ECG_ELEC_POTL_II^MDC",
            samples,
            "266418^MDC_DIM_MILLI_VOLT^MDC",
            sub="1.2.1.1",
        )
        + "OBX|4|NM|^MDC_ATTR_SAMP_RATE^MDC|1.2.1.1.1|250|264640^MDC_DIM_HZ^MDC|||||R\r"
    )
    m = map_message(msg, now=NOW)
    assert m.vitals == [] and len(m.ecg) == 2
    c0, c1 = m.ecg
    assert c0["lead"] == "II" and c0["fs_hz"] == 250.0 and len(c0["ecg_uv"]) == 250
    assert c0["ecg_uv"][:3] == [0, 10, 20] and c0["ecg_uv"][49] == 490
    assert c0["ts"] == "2026-12-05T09:57:15-05:00" and c1["ts"] == "2026-12-05T09:57:16-05:00"
    assert c1["seq"] == c0["seq"] + 1
    assert c0["seq"] == int(datetime(2026, 12, 5, 14, 57, 15, tzinfo=UTC).timestamp())


def test_waveform_single_channel_ma_in_microvolts():
    msg = HEAD + (
        obx(2, "MA", "^MDC_ECG_ELEC_POTL_V1^MDC", "~".join(["5", "-7", "12"] * 120), "uV^^UCUM")
        + "OBX|3|NM|^MDC_ATTR_SAMP_RATE^MDC|1.1.1.1.1|360|Hz^^UCUM|||||R\r"
    )
    (c,) = map_message(msg, now=NOW).ecg
    assert c["lead"] == "V1" and c["ecg_uv"][:4] == [5, -7, 12, 5] and c["fs_hz"] == 360.0


@pytest.mark.parametrize(
    ("change", "hl7_code", "ack_code_", "code", "where"),
    [
        (("|||20261205095715-0500\r", "|||20261205095715\r"), 102, "AE", "bad_timestamp", "OBX^2^14^1"),
        (("262688^MDC_DIM_PERCENT^MDC", "1234^MDC_DIM_FURLONG^MDC"), 103, "AE", "wrong_unit", "OBX^2^6^1"),
        (("262688^MDC_DIM_PERCENT^MDC", "266016^MDC_DIM_MMHG^MDC"), 103, "AE", "wrong_unit", "OBX^2^6^1"),
        (("|97|", "|120|"), 207, "AE", "out_of_range", "OBX^1"),
        (("|97|", "|ninety|"), 102, "AE", "malformed", "OBX^2^5^1"),
        (("PID|||AB60001^^^AA1^PI", "PID|||"), 101, "AE", "missing_field", "PID^1^3^1"),
        (("ORU^R01^ORU_R01", "ADT^A01^ADT_A01"), 200, "AR", "unsupported", "MSH^1^9^1"),
        (("ORU^R01^ORU_R01", "ORU^R30^ORU_R30"), 201, "AR", "unsupported", "MSH^1^9^1^2"),
        (("|P|2.6|", "|P|2.3|"), 203, "AR", "unsupported", "MSH^1^12^1"),
    ],
)
def test_errors_carry_the_hl7_code_ack_and_location(change, hl7_code, ack_code_, code, where):
    good = HEAD + obx(2, "NM", "150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", "262688^MDC_DIM_PERCENT^MDC")
    assert map_message(good, now=NOW).vitals
    bad = good.replace(*change)
    with pytest.raises(HL7Error) as ei:
        map_message(bad, now=NOW)
    e = ei.value
    assert (e.hl7_code, e.ack, e.code, e.location) == (hl7_code, ack_code_, code, where)
    answer = ack(bad, e)
    assert ack_code(answer) == ack_code_
    assert f"|{hl7_code}^" in answer and "\rMSA|" + ack_code_ + "|MSG0001" in answer


def test_waveform_without_sample_rate_is_an_error():
    msg = HEAD + obx(2, "NA", "131330^MDC_ECG_ELEC_POTL_II^MDC", "1^2^3", "266418^MDC_DIM_MILLI_VOLT^MDC")
    with pytest.raises(HL7Error, match="MDC_ATTR_SAMP_RATE"):
        map_message(msg, now=NOW)


def test_unparseable_text_is_rejected_and_still_answered():
    for text in ("", "garbage", "PID|||1", "MSH", "MSH|^~\\&|A"):
        with pytest.raises(HL7Error) as ei:
            map_message(text, now=NOW)
        assert ei.value.ack == "AR"
        answer = ack(text, ei.value)
        assert ack_code(answer) == "AR" and "\rERR|" in answer


def test_round_trip_through_the_builders():
    r = {
        "patient_id": "SIM-0001",
        "bed": "W1-01",
        "ts": "2026-12-05T10:00:01+00:00",
        "hr_bpm": 88,
        "spo2_pct": 94,
        "rr_bpm": 21,
        "sbp_mmhg": 101,
        "dbp_mmhg": 63,
        "temp_c": 38.4,
        "o2": "air",
        "acvpu": "A",
        "spo2_scale": 1,
    }
    (back,) = map_message(build_oru_r01(r, "C1"), now=NOW).vitals
    assert back == r  # charted o2 / ACVPU / SpO2 scale too, with our local 99WW codes
    c = ecg_chunk_dict(
        "SIM-0001", "W1-01", datetime(2026, 12, 5, 10, tzinfo=UTC), 360, 7, "II", [3, -4] * 180
    )
    (cb,) = map_message(build_waveform_r01(c, "C2"), now=NOW).ecg
    assert cb["ecg_uv"] == c["ecg_uv"] and cb["lead"] == "II" and cb["ts"] == c["ts"] and cb["fs_hz"] == 360


def test_builder_escapes_delimiters_in_ids():
    r = {"patient_id": "P|1^x", "bed": "B~2", "ts": "2026-12-05T10:00:00+00:00", "hr_bpm": 70}
    (back,) = map_message(build_oru_r01(r, "C|3"), now=NOW).vitals
    # python-hl7 leaves escapes as they are: the id arrives escaped, never split into fields
    assert back["patient_id"] == "P\\F\\1\\S\\x" and back["bed"] == "B\\R\\2"


# --------------------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_maps_or_raises_the_typed_error(text):
    try:
        map_message(text, now=NOW)
    except HL7Error as e:
        assert e.ack in ("AE", "AR")
        assert ack_code(ack(text, e)) in ("AE", "AR")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_messages_map_or_raise_the_typed_error(data):
    text = VITALS
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = data.draw(st.sampled_from(list("|^~\\&\r0123456789.-+ XAZ\x00é")))
        if op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + ch + text[i + 1 :]
    try:
        m = map_message(text, now=NOW)
    except HL7Error as e:
        assert ack_code(ack(text, e)) in ("AE", "AR")
    else:
        assert m.vitals or m.ecg
