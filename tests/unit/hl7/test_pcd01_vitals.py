"""PCD-01 -> vitals for what the first corpus left out: mean arterial pressure (cuff and arterial
line), supplemental oxygen (FiO2, O2 flow, charted), ACVPU and the SpO2 scale; each mapping, its
unit conversion, and its refusal (AE + ERR with the HL7 code and location)."""

from datetime import UTC, datetime

import pytest

from wardwatch.hl7.pcd01 import HL7Error, ack, ack_code, map_message
from wardwatch.records.deadletter import deadletter_record

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
T = "20261205095715-0500"
HEAD = (
    "MSH|^~\\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20261205095730-0500||ORU^R01^ORU_R01|MSG0002|P|2.6"
    "|||NE|AL||||||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
    "PID|||AB60001^^^AA1^PI||Brooks^Albert^^^^^L\r"
    "PV1||I|3 West ICU^3001^1\r"
    "OBR|1|AB12345^AcmeAHDInc|CD12345^AcmeAHDInc|182777000^monitoring of patient^SNOMED-CT|||" + T + "\r"
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0123456789ABCDEF^EUI-64\r"
)
MMHG = "266016^MDC_DIM_MMHG^MDC"
PCT = "262688^MDC_DIM_PERCENT^MDC"


def obx(n, vtype, code, value, unit="", ts=T):
    return f"OBX|{n}|{vtype}|{code}|1.1.1.{n}|{value}|{unit}|||||R|||{ts}\r"


def one(*obxs):
    (r,) = map_message(HEAD + "".join(obxs), now=NOW).vitals
    return r


def refused(*obxs):
    text = HEAD + "".join(obxs)
    with pytest.raises(HL7Error) as ei:
        map_message(text, now=NOW)
    e = ei.value
    answer = ack(text, e)
    assert ack_code(answer) == e.ack and f"\rERR||{e.location}|{e.hl7_code}^" in answer
    # what the gateway puts on deadletter: our reason code, the raw message
    dl = deadletter_record(e.invalid_record(), "hl7", text.encode(), key="AB60001", detail={})
    assert dl["code"] == e.code and dl["key"] == "AB60001"
    return e


# --------------------------------------------------------------------------- MAP
def test_nibp_mean_in_kpa_is_carried_in_mmhg():
    r = one(
        obx(2, "NM", "150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "16", "kPa^^UCUM"),
        obx(3, "NM", "150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "10", "kPa^^UCUM"),
        obx(4, "NM", "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "12.2", "265987^MDC_DIM_KILO_PASCAL^MDC"),
    )
    assert (r["sbp_mmhg"], r["dbp_mmhg"], r["map_mmhg"]) == (120.0, 75.0, 91.5)


def test_arterial_line_wins_over_the_cuff_field_by_field_and_alone_is_carried():
    r = one(
        obx(2, "NM", "150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "118", MMHG),
        obx(3, "NM", "150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "70", MMHG),
        obx(4, "NM", "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "86", MMHG),
        obx(5, "NM", "150033^MDC_PRESS_BLD_ART_SYS^MDC", "112", MMHG),  # GE/Philips term 18961
        obx(6, "NM", "150034", "76", MMHG),
        obx(7, "NM", "^MDC_PRESS_BLD_ART_ABP_MEAN^MDC", "95", MMHG),
        obx(8, "NM", "149522^MDC_BLD_PULS_RATE_INV^MDC", "80", "{beat}/min^^UCUM"),
    )
    assert (r["sbp_mmhg"], r["dbp_mmhg"], r["map_mmhg"], r["hr_bpm"]) == (112.0, 76.0, 95.0, 80.0)
    assert one(obx(2, "NM", "150039", "71", MMHG)) == {
        "patient_id": "AB60001",
        "bed": "3 West ICU-3001-1",
        "ts": "2026-12-05T09:57:15-05:00",
        "map_mmhg": 71.0,
    }


def test_map_range_is_checked_after_the_unit_conversion():
    assert one(obx(2, "NM", "150023", "2", "kPa^^UCUM"))["map_mmhg"] == 15.0  # the lower bound
    e = refused(obx(2, "NM", "150023", "1.9", "kPa^^UCUM"))
    assert (e.ack, e.hl7_code, e.code) == (
        "AE",
        207,
        "out_of_range",
    ) and "outside the physiological" in e.message
    e = refused(obx(2, "NM", "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "260", MMHG))
    assert e.code == "out_of_range"


def test_map_outside_its_systolic_and_diastolic_is_ae():
    e = refused(
        obx(2, "NM", "150021", "120", MMHG),
        obx(3, "NM", "150022", "80", MMHG),
        obx(4, "NM", "150023", "130", MMHG),
    )
    assert (e.ack, e.hl7_code, e.code) == ("AE", 207, "out_of_range") and "not between" in e.message


def test_map_in_a_pressure_unit_of_the_wrong_kind_is_ae_103():
    e = refused(obx(2, "NM", "150023", "93", PCT))
    assert (e.hl7_code, e.code, e.location) == (103, "wrong_unit", "OBX^2^6^1")


# --------------------------------------------------------------------------- supplemental oxygen
@pytest.mark.parametrize(
    ("code", "value", "unit", "o2"),
    [
        ("152196^MDC_CONC_AWAY_O2_INSP^MDC", "21", PCT, "air"),
        ("152196^MDC_CONC_AWAY_O2_INSP^MDC", "23.9", PCT, "air"),
        ("152196", "24", "%^^UCUM", "oxygen"),  # the lowest Venturi setting
        ("^MDC_VENT_CONC_AWAY_O2_INSP^MDC", "40", PCT, "oxygen"),
        ("3150-0^Inhaled oxygen concentration^LN", "35", "%^^UCUM", "oxygen"),
        ("3151-8^Inhaled oxygen flow rate^LN", "2", "L/min^^UCUM", "oxygen"),
        ("3151-8^Inhaled oxygen flow rate^LN", "0", "l/min^^UCUM", "air"),
    ],
)
def test_inspired_fraction_and_flow_decide_o2(code, value, unit, o2):
    assert one(obx(2, "NM", code, value, unit))["o2"] == o2


def test_charted_o2_wins_over_the_devices_then_flow_over_fraction():
    fio2_air = obx(2, "NM", "152196", "21", PCT)
    flow = obx(3, "NM", "3151-8^^LN", "4", "L/min^^UCUM")
    assert one(fio2_air, flow)["o2"] == "oxygen"
    assert (
        one(fio2_air, flow, obx(4, "CWE", "ON_O2^On supplemental oxygen^99WW", "N^No^HL70136"))["o2"] == "air"
    )
    assert one(obx(2, "ST", "ON_O2^^99WW", "y"))["o2"] == "oxygen"


@pytest.mark.parametrize(
    ("line", "hl7_code", "code", "where"),
    [
        (obx(2, "NM", "152196", "0.28", PCT), 207, "out_of_range", "OBX^2^5^1"),  # a fraction, not %
        (obx(2, "NM", "152196", "101", PCT), 207, "out_of_range", "OBX^2^5^1"),
        (obx(2, "NM", "3151-8^^LN", "80", "L/min^^UCUM"), 207, "out_of_range", "OBX^2^5^1"),
        (obx(2, "NM", "3151-8^^LN", "2", MMHG), 103, "wrong_unit", "OBX^2^6^1"),
        (obx(2, "NM", "152196", "40", "L/min^^UCUM"), 103, "wrong_unit", "OBX^2^6^1"),
        (obx(2, "CWE", "ON_O2^^99WW", "maybe"), 103, "bad_value", "OBX^2^5^1"),
        (obx(2, "NM", "ON_O2^^99WW", "1"), 102, "malformed", "OBX^2^2^1"),
    ],
)
def test_oxygen_refusals(line, hl7_code, code, where):
    e = refused(line)
    assert (e.ack, e.hl7_code, e.code, e.location) == ("AE", hl7_code, code, where)


# --------------------------------------------------------------------------- ACVPU, SpO2 scale
@pytest.mark.parametrize("level", ["A", "C", "V", "P", "U"])
def test_acvpu_levels(level):
    assert one(obx(2, "CWE", "ACVPU^ACVPU level of consciousness^99WW", f"{level}^^99WW"))["acvpu"] == level


def test_acvpu_refusals():
    e = refused(obx(2, "CWE", "ACVPU^^99WW", "X"))
    assert (e.hl7_code, e.code, e.location) == (
        103,
        "bad_value",
        "OBX^2^5^1",
    ) and "A, C, V, P or U" in e.message
    e = refused(obx(2, "NM", "ACVPU^^99WW", "1"))
    assert (e.hl7_code, e.location) == (102, "OBX^2^2^1")


def test_an_unknown_local_code_is_passed_over_not_guessed():
    m = map_message(HEAD + obx(2, "CWE", "GCS^^99WW", "15") + obx(3, "NM", "150456", "97", PCT), now=NOW)
    assert m.skipped == 2 and "acvpu" not in m.vitals[0]


def test_spo2_scale_holds_for_every_reading_of_the_message():
    rs = map_message(
        HEAD
        + obx(2, "NM", "150456", "89", PCT)
        + obx(3, "NM", "150456", "88", PCT, ts="20261205095815-0500")
        + obx(4, "NM", "SPO2_SCALE^NEWS2 SpO2 scale^99WW", "2", ts=""),
        now=NOW,
    ).vitals
    assert [(r["spo2_pct"], r["spo2_scale"]) for r in rs] == [(89.0, 2), (88.0, 2)]
    assert "spo2_scale" not in one(obx(2, "NM", "150456", "97", PCT))  # absent: scale 1 applies


@pytest.mark.parametrize("bad", ["3", "1.5", "0"])
def test_spo2_scale_other_than_1_or_2_is_ae(bad):
    e = refused(obx(2, "NM", "150456", "89", PCT), obx(3, "NM", "SPO2_SCALE^^99WW", bad))
    assert (e.hl7_code, e.code, e.location) == (103, "bad_value", "OBX^3^5^1")


def test_two_different_scales_in_one_message_are_ae():
    e = refused(
        obx(2, "NM", "SPO2_SCALE^^99WW", "1"),
        obx(3, "NM", "150456", "89", PCT),
        obx(4, "NM", "SPO2_SCALE^^99WW", "2"),
    )
    assert e.code == "bad_value" and "another scale" in e.message
