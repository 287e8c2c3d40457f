"""PCD-01 multi-channel waveforms -> ECG chunks with both leads.

HL7 v2 (chapter 7, MA data type): a multiplexed array repeats once per sample time
(``~``), and each repetition holds one component per channel (``^``): ``1^5~2^6`` is two
channels, two samples. The channels are named by an HL7 v2 channel-definition (CD) OBX after the
MA (CD.1 = ``<channel number>&<channel name>``, CD.5 the sampling frequency), the leads by their
MDC codes; the MA's own OBX-3 is the generic ``MDC_ECG_ELEC_POTL``. The message below is
written in the shape of the IHE PCD TF PCD-01 examples (MDS/VMD/CHAN containment rows, OBX-4
sub-ids, MDC units, OBX-18 device)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardwatch.hl7.build import build_waveform_r01
from wardwatch.hl7.pcd01 import HL7Error, ack, ack_code, map_message
from wardwatch.records.ecg import ecg_chunk_dict

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
T = "20261205095715-0500"
HEAD = (
    "MSH|^~\\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20261205095730-0500||ORU^R01^ORU_R01|MSG0003|P|2.6"
    "|||NE|AL||||||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
    "PID|||AB60001^^^AA1^PI||Brooks^Albert^^^^^L\r"
    "PV1||I|3 West ICU^3001^1\r"
    "OBR|1|AB12345^AcmeAHDInc|CD12345^AcmeAHDInc|182777000^monitoring of patient^SNOMED-CT|||" + T + "\r"
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0123456789ABCDEF^EUI-64\r"
    "OBX|2||69798^MDC_DEV_ECG_VMD^MDC|1.2.0.0|||||||X\r"
    "OBX|3||69799^MDC_DEV_ECG_CHAN^MDC|1.2.1.0|||||||X\r"
)
MV = "266418^MDC_DIM_MILLI_VOLT^MDC"
RATE = "OBX|{n}|NM|^MDC_ATTR_SAMP_RATE^MDC|1.2.1.1.1|{fs}|264640^MDC_DIM_HZ^MDC|||||R\r"


def ma(n, rows, code="131328^MDC_ECG_ELEC_POTL^MDC", unit=MV):
    value = "~".join("^".join(str(v) for v in row) for row in rows)
    return f"OBX|{n}|MA|{code}|1.2.1.1|{value}|{unit}|||||R|||{T}\r"


def cd(n, *names, fs=""):
    reps = "~".join(f"{k}&{name}" + (f"^^^^{fs}" if fs else "") for k, name in enumerate(names, start=1))
    return f"OBX|{n}|CD|CHN^channel definition^99WW|1.2.1.1.2|{reps}||||||R\r"


def na(n, code, values, unit=MV):
    return f"OBX|{n}|NA|{code}|1.2.1.1|{'^'.join(str(v) for v in values)}|{unit}|||||R|||{T}\r"


def test_two_channel_ma_with_its_channel_definition_becomes_two_lead_chunks():
    rows = [[round((i % 25) * 0.04, 2), round(-(i % 10) * 0.05, 2)] for i in range(300)]  # 1.2 s at 250 Hz
    msg = HEAD + ma(4, rows) + cd(5, "MDC_ECG_ELEC_POTL_II", "131331") + RATE.format(n=6, fs=250)
    m = map_message(msg, now=NOW)
    assert [len(c["ecg_uv"]) for c in m.ecg] == [250, 50]
    c0, c1 = m.ecg
    assert (c0["lead"], c0["lead2"], c0["fs_hz"]) == ("II", "V1", 250.0)
    assert c0["ecg_uv"][:3] == [0, 40, 80] and c0["ecg2_uv"][:3] == [0, -50, -100]  # mV -> uV
    assert c1["ecg_uv"][0] == round(rows[250][0] * 1000) and c1["ecg2_uv"][-1] == round(rows[-1][1] * 1000)
    assert c1["seq"] == c0["seq"] + 1 and c1["ts"] == "2026-12-05T09:57:16-05:00"
    assert m.vitals == [] and m.skipped == 3  # the MDS, VMD and CHAN rows


def test_lead_ii_goes_first_whatever_the_channel_order_and_cd_may_carry_the_rate():
    msg = HEAD + ma(4, [[1, 2]] * 200, unit="uV^^UCUM") + cd(5, "MDC_ECG_ELEC_POTL_V5", "131330", fs=200)
    (c,) = map_message(msg, now=NOW).ecg
    assert (c["lead"], c["lead2"], c["fs_hz"]) == ("II", "V5", 200.0)
    assert c["ecg_uv"][:2] == [2, 2] and c["ecg2_uv"][:2] == [1, 1]


def test_na_leads_sampled_together_share_chunks_and_a_third_is_left_out():
    msg = (
        HEAD
        + na(4, "131331^MDC_ECG_ELEC_POTL_V1^MDC", [5] * 250, "uV^^UCUM")
        + RATE.format(n=5, fs=250)
        + na(6, "131330^MDC_ECG_ELEC_POTL_II^MDC", [7] * 250, "uV^^UCUM")
        + RATE.format(n=7, fs=250)
        + na(8, "^MDC_ECG_ELEC_POTL_AVF^MDC", [9] * 250, "uV^^UCUM")
        + RATE.format(n=9, fs=250)
    )
    m = map_message(msg, now=NOW)
    (c,) = m.ecg
    assert (c["lead"], c["lead2"], c["ecg_uv"][0], c["ecg2_uv"][0]) == ("II", "V1", 7, 5)
    assert m.skipped == 3 + 1


def test_single_channel_ma_keeps_its_obx3_lead():
    (c,) = map_message(
        HEAD
        + ma(4, [[3]] * 100, code="131329^MDC_ECG_ELEC_POTL_I^MDC", unit="uV^^UCUM")
        + RATE.format(n=5, fs=100),
        now=NOW,
    ).ecg
    assert c["lead"] == "I" and "lead2" not in c and c["ecg_uv"] == [3] * 100


@pytest.mark.parametrize(
    ("body", "hl7_code", "code", "where"),
    [
        (ma(4, [[1, 2]] * 250) + RATE.format(n=5, fs=250), 101, "missing_field", "OBX^4^5^1"),
        (
            ma(4, [[1, 2]] * 249 + [[1]]) + cd(5, "131330", "131331") + RATE.format(n=6, fs=250),
            102,
            "malformed",
            "OBX^4^5^1",
        ),
        (
            ma(4, [[1, ""]] * 250) + cd(5, "131330", "131331") + RATE.format(n=6, fs=250),
            102,
            "malformed",
            "OBX^4^5^1",
        ),
        (
            ma(4, [[1, 2]] * 250) + cd(5, "131330", "MDC_EEG_F3") + RATE.format(n=6, fs=250),
            103,
            "unknown_lead",
            "OBX^5^5^1^1",
        ),
        (ma(4, [[1, 2]] * 250) + cd(5, "131330", "131331"), 101, "bad_fs", "OBX^4"),
        (
            ma(4, [[1, 20]] * 250) + cd(5, "131330", "131331") + RATE.format(n=6, fs=250),
            207,
            "amplitude_impossible",
            "OBX^4^5^1",
        ),
        (
            ma(4, [[1, "x"]] * 250) + cd(5, "131330", "131331") + RATE.format(n=6, fs=250),
            102,
            "malformed",
            "OBX^4^5^1",
        ),
        (ma(4, [[1, 2]] * 250) + cd(5, "131330", "131331") + RATE.format(n=6, fs=20), 207, "bad_fs", "OBX^4"),
    ],
)
def test_multichannel_refusals(body, hl7_code, code, where):
    text = HEAD + body
    with pytest.raises(HL7Error) as ei:
        map_message(text, now=NOW)
    e = ei.value
    assert (e.ack, e.hl7_code, e.code, e.location) == ("AE", hl7_code, code, where)
    assert ack_code(ack(text, e)) == "AE"


def test_builder_sends_two_leads_as_ma_and_modified_leads_as_their_standard_lead():
    c = ecg_chunk_dict(
        "P1",
        "B1",
        datetime(2026, 12, 5, 10, tzinfo=UTC),
        360,
        3,
        "MLII",
        [4, -5] * 180,
        lead2="V1",
        ecg2_uv=[7] * 360,
    )
    text = build_waveform_r01(c, "C1")
    assert "|MA|131328^MDC_ECG_ELEC_POTL^MDC|" in text and "|CD|" in text and "|4^7~-5^7~" in text
    (back,) = map_message(text, now=NOW).ecg
    assert (back["lead"], back["lead2"]) == ("II", "V1")
    assert back["ecg_uv"] == c["ecg_uv"] and back["ecg2_uv"] == c["ecg2_uv"] and back["ts"] == c["ts"]


# --------------------------------------------------------------------------- properties
_samples = st.integers(-10_000, 10_000)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 700),
    fs=st.sampled_from([100, 125, 250, 360, 500]),
    two=st.booleans(),
    data=st.data(),
)
def test_any_one_or_two_lead_chunk_round_trips_exactly(n, fs, two, data):
    n = min(n, 5 * fs)
    a = data.draw(st.lists(_samples, min_size=n, max_size=n))
    b = data.draw(st.lists(_samples, min_size=n, max_size=n)) if two else None
    c = ecg_chunk_dict(
        "P1",
        "B1",
        datetime(2026, 12, 5, 10, tzinfo=UTC),
        fs,
        0,
        "II",
        a,
        lead2="V1" if two else None,
        ecg2_uv=b,
    )
    back = map_message(build_waveform_r01(c, "C1"), now=NOW).ecg
    assert [v for ch in back for v in ch["ecg_uv"]] == a
    if two:
        assert [v for ch in back for v in ch["ecg2_uv"]] == b and {ch["lead2"] for ch in back} == {"V1"}
    assert all(len(ch["ecg_uv"]) <= fs for ch in back)


_MA = (
    HEAD
    + ma(4, [[i % 7, -(i % 5)] for i in range(250)])
    + cd(5, "131330", "131331")
    + RATE.format(n=6, fs=250)
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_ma_messages_map_or_raise_the_typed_error(data):
    text = _MA
    for _ in range(data.draw(st.integers(1, 6))):
        # mutations near the MA, CD and rate OBXs (the tail of the message) hit the new path
        i = data.draw(st.integers(len(HEAD), len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = data.draw(st.sampled_from(list("|^~\\&\r0123456789.-+ X&é")))
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
        assert m.ecg
        for c in m.ecg:
            assert c["lead"] != c.get("lead2") and len(c["ecg_uv"]) == len(c.get("ecg2_uv", c["ecg_uv"]))
