"""IEEE 11073-10101 (MDC) observation and unit codes the HL7 gateway knows, and HL7 table 0357.

Numeric MDC codes are ``partition * 65536 + term code``. The term codes below were checked
against a public transcription of the Philips IntelliVue Data Export nomenclature (which uses the
11073-10101 term codes): object/physiological ids in partition 2 (SCADA, base 131072), e.g.
``NOM_ECG_CARD_BEAT_RATE(16770)``, ``NOM_PULS_OXIM_SAT_O2(19384)``, ``NOM_RESP_RATE(20490)``,
``NOM_PRESS_BLD_NONINV_SYS/DIA/MEAN(18949/18950/18951)``, ``NOM_TEMP(19272)``,
``NOM_ECG_ELEC_POTL_I/II/V1..V6(257/258/259..264)``, ``..._III/AVR/AVL/AVF(317..320)``,
``NOM_PRESS_BLD_ART_SYS/DIA/MEAN(18961..18963)`` (150033-150035, also in GE's B40 PCD-01
examples), ``NOM_PRESS_BLD_ART_ABP_SYS/DIA/MEAN(18965..18967)``, ``NOM_CONC_AWAY_O2_INSP(21124)``,
``NOM_ECG_ELEC_POTL(256)``; and unit
codes in partition 4 (DIM, base 262144) from github.com/Koshsky/Intellivue-api
``pkg/intellivue/base/unitCodes.go`` (``NOM_DIM_PERCENT 544``, ``NOM_DIM_BEAT_PER_MIN 2720``,
``NOM_DIM_RESP_PER_MIN 2784``, ``NOM_DIM_PER_MIN 2528``, ``NOM_DIM_KILO_PASCAL 3843``,
``NOM_DIM_MMHG 3872``, ``NOM_DIM_MILLI_VOLT 4274``, ``NOM_DIM_MICRO_VOLT 4275``,
``NOM_DIM_FAHR 4416``, ``NOM_DIM_DEGC 6048``, ``NOM_DIM_HZ 2496``).

Codes we could NOT confirm numerically are matched by their reference id only (OBX-3.2 /
OBX-6.2): ``MDC_PULS_OXIM_PULS_RATE``, ``MDC_PULS_RATE_NON_INV``, ``MDC_TTHOR_RESP_RATE``,
``MDC_CO2_RESP_RATE``, ``MDC_PRESS_CUFF_SYS/DIA/MEAN``, ``MDC_TEMP_BODY``,
``MDC_BLD_PULS_RATE_INV``, ``MDC_VENT_CONC_AWAY_O2_INSP``, ``MDC_DIM_L_PER_MIN`` and
``MDC_ATTR_SAMP_RATE``. (In the same table 151570 is ``NOM_AWAY_RESP_RATE``, airway respiration
rate, not the transthoracic one: one reason not to guess.) Where 11073-10101 has no term (ACVPU,
"on oxygen", the NEWS2 SpO2 scale, a ward patient's O2 flow) we say so below and use LOINC or a
documented local code, never an invented MDC number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

_Value = TypeVar("_Value", float, np.ndarray)

SCADA = 2 * 65536  # partition 2: physiological (SCADA) ids
DIM = 4 * 65536  # partition 4: units of measure

#: What the gateway maps each numeric observation to: (candidate, unit kind). A candidate is
#: ``<field>`` or ``<field>:<source>``; several sources of one field at one time are resolved by
#: :data:`PRECEDENCE`. ``fio2`` and ``o2_flow`` are not fields: they decide ``o2`` (see
#: :func:`on_oxygen`).
OBSERVATIONS: dict[str, tuple[str, str]] = {
    # reference id: (candidate, unit kind)
    "MDC_ECG_HEART_RATE": ("hr_bpm:ecg", "rate"),
    "MDC_ECG_CARD_BEAT_RATE": ("hr_bpm:ecg", "rate"),
    "MDC_PULS_OXIM_PULS_RATE": ("hr_bpm:spo2", "rate"),
    "MDC_BLD_PULS_RATE_INV": ("hr_bpm:art", "rate"),
    "MDC_PULS_RATE_NON_INV": ("hr_bpm:nibp", "rate"),
    "MDC_PULS_OXIM_SAT_O2": ("spo2_pct", "percent"),
    "MDC_RESP_RATE": ("rr_bpm", "rate"),
    "MDC_TTHOR_RESP_RATE": ("rr_bpm", "rate"),
    "MDC_CO2_RESP_RATE": ("rr_bpm", "rate"),
    "MDC_PRESS_BLD_NONINV_SYS": ("sbp_mmhg:nibp", "pressure"),
    "MDC_PRESS_BLD_NONINV_DIA": ("dbp_mmhg:nibp", "pressure"),
    "MDC_PRESS_BLD_NONINV_MEAN": ("map_mmhg:nibp", "pressure"),
    "MDC_PRESS_CUFF_SYS": ("sbp_mmhg:nibp", "pressure"),
    "MDC_PRESS_CUFF_DIA": ("dbp_mmhg:nibp", "pressure"),
    "MDC_PRESS_CUFF_MEAN": ("map_mmhg:nibp", "pressure"),
    # invasive arterial line (the radial/femoral "ART" / "ABP" labels of the monitors)
    "MDC_PRESS_BLD_ART_SYS": ("sbp_mmhg:art", "pressure"),
    "MDC_PRESS_BLD_ART_DIA": ("dbp_mmhg:art", "pressure"),
    "MDC_PRESS_BLD_ART_MEAN": ("map_mmhg:art", "pressure"),
    "MDC_PRESS_BLD_ART_ABP_SYS": ("sbp_mmhg:art", "pressure"),
    "MDC_PRESS_BLD_ART_ABP_DIA": ("dbp_mmhg:art", "pressure"),
    "MDC_PRESS_BLD_ART_ABP_MEAN": ("map_mmhg:art", "pressure"),
    "MDC_TEMP": ("temp_c", "temperature"),
    "MDC_TEMP_BODY": ("temp_c", "temperature"),
    # inspired O2 fraction from a gas analyser or ventilator; LOINC 3150-0 is the same quantity
    "MDC_CONC_AWAY_O2_INSP": ("fio2", "percent"),
    "MDC_VENT_CONC_AWAY_O2_INSP": ("fio2", "percent"),
    "LN:3150-0": ("fio2", "percent"),
    # supplemental O2 flow: no MDC code for a ward patient's O2 flow (MDC_FLOW_O2_FG is the
    # anaesthesia machine's fresh gas), so LOINC 3151-8 "Inhaled oxygen flow rate", the code the
    # HL7 FHIR US Core pulse oximetry profile uses for the same thing
    "LN:3151-8": ("o2_flow", "flow"),
}
#: One field from several sources at one time, first present wins. Heart rate: the ECG beat
#: rate (continuous, from the electrical signal), then the pulse oximeter's pulse rate, the
#: arterial line's pulse rate, the NIBP cuff's (one value per cycle); NEWS2 (RCP 2017) scores
#: "pulse" from any of them. Pressures: the arterial line (direct, continuous; the reference
#: method where there is one) before the cuff, and one source for all three of a time's
#: pressures is not enforced: each field is resolved on its own.
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "hr_bpm": ("hr_bpm:ecg", "hr_bpm:spo2", "hr_bpm:art", "hr_bpm:nibp"),
    "sbp_mmhg": ("sbp_mmhg:art", "sbp_mmhg:nibp"),
    "dbp_mmhg": ("dbp_mmhg:art", "dbp_mmhg:nibp"),
    "map_mmhg": ("map_mmhg:art", "map_mmhg:nibp"),
    # what the nurse charted, then what the devices say (an O2 flow, then an inspired fraction)
    "o2": ("o2:charted", "o2:o2_flow", "o2:fio2"),
}
#: Numeric codes confirmed in the nomenclature table cited above (partition 2 + term code).
OBSERVATION_CODES: dict[int, str] = {
    SCADA + 16770: "MDC_ECG_HEART_RATE",  # 147842 (NOM_ECG_CARD_BEAT_RATE)
    SCADA + 19384: "MDC_PULS_OXIM_SAT_O2",  # 150456
    SCADA + 20490: "MDC_RESP_RATE",  # 151562
    SCADA + 18949: "MDC_PRESS_BLD_NONINV_SYS",  # 150021
    SCADA + 18950: "MDC_PRESS_BLD_NONINV_DIA",  # 150022
    SCADA + 18951: "MDC_PRESS_BLD_NONINV_MEAN",  # 150023
    SCADA + 18961: "MDC_PRESS_BLD_ART_SYS",  # 150033 (NOM_PRESS_BLD_ART_SYS; GE B40 PCD-01 guide)
    SCADA + 18962: "MDC_PRESS_BLD_ART_DIA",  # 150034
    SCADA + 18963: "MDC_PRESS_BLD_ART_MEAN",  # 150035
    SCADA + 18965: "MDC_PRESS_BLD_ART_ABP_SYS",  # 150037 (NOM_PRESS_BLD_ART_ABP_SYS)
    SCADA + 18966: "MDC_PRESS_BLD_ART_ABP_DIA",  # 150038
    SCADA + 18967: "MDC_PRESS_BLD_ART_ABP_MEAN",  # 150039
    SCADA + 19272: "MDC_TEMP",  # 150344
    SCADA + 21124: "MDC_CONC_AWAY_O2_INSP",  # 152196 (NOM_CONC_AWAY_O2_INSP)
}

#: Our local codes (HL7 v2 local coding system ``99WW``: table 0396 reserves ``99zzz`` for
#: local systems) for what IEEE 11073-10101 has no term for: the nurse-charted parts of NEWS2.
#: We found no MDC code for ACVPU/AVPU (nor for "on supplemental oxygen" as a yes/no, nor for
#: the NEWS2 SpO2 scale, which is a prescribing decision, not a measurement). OBX-3 is
#: ``<code>^<text>^99WW``; the value type and values:
#:
#: ============  ========  ===================================================================
#: code          type      OBX-5
#: ============  ========  ===================================================================
#: ``ON_O2``     CWE/ST    ``Y`` on supplemental oxygen, ``N`` breathing air (HL7 table 0136)
#: ``ACVPU``     CWE/ST    ``A``, ``C``, ``V``, ``P`` or ``U`` (RCP NEWS2 2017, chart 1)
#: ``SPO2_SCALE`` NM       ``1`` or ``2`` (NEWS2 SpO2 scale 2: hypercapnic respiratory failure)
#: ============  ========  ===================================================================
LOCAL_SYSTEM = "99WW"
LOCAL: dict[str, str] = {"ON_O2": "o2", "ACVPU": "acvpu", "SPO2_SCALE": "spo2_scale"}
#: HL7 table 0136 (Yes/No indicator) -> our ``o2``.
YES_NO_O2 = {"Y": "oxygen", "N": "air"}

#: FiO2 at or above this is supplemental oxygen: room air is 20.9 %, and the lowest oxygen a ward
#: prescribes is 24 % (the blue Venturi valve; BTS guideline for oxygen use in adults, 2017),
#: which also clears the +-2 % (v/v) accuracy an ISO 80601-2-55 gas monitor may have at 21 %.
FIO2_OXYGEN_PCT = 24.0
#: Plausible ranges (AE 207 outside): FiO2 from room air to pure oxygen, with the gas monitor's
#: tolerance below 21 %; O2 flow from 0 (off) to 60 L/min (high-flow nasal cannula maximum).
FIO2_RANGE_PCT = (18.0, 100.0)
O2_FLOW_RANGE_L_MIN = (0.0, 60.0)


def on_oxygen(kind: str, value: float) -> str:
    """``o2`` ("air"/"oxygen") from an inspired-O2 fraction (%) or an O2 flow (L/min).

    >>> on_oxygen("fio2", 21), on_oxygen("fio2", 28), on_oxygen("o2_flow", 0), on_oxygen("o2_flow", 2)
    ('air', 'oxygen', 'air', 'oxygen')
    """
    if kind == "fio2":
        return "oxygen" if value >= FIO2_OXYGEN_PCT else "air"
    return "oxygen" if value > 0 else "air"


#: ECG leads: reference id -> our lead name (wardwatch.records.ecg.LEADS).
LEADS: dict[str, str] = {
    "MDC_ECG_ELEC_POTL_I": "I",
    "MDC_ECG_ELEC_POTL_II": "II",
    "MDC_ECG_ELEC_POTL_III": "III",
    "MDC_ECG_ELEC_POTL_AVR": "aVR",
    "MDC_ECG_ELEC_POTL_AVL": "aVL",
    "MDC_ECG_ELEC_POTL_AVF": "aVF",
    **{f"MDC_ECG_ELEC_POTL_V{i}": f"V{i}" for i in range(1, 7)},
}
#: The generic ECG potential (no lead): the OBX-3 of a multi-channel MA whose CD names the leads.
ECG_GENERIC = "MDC_ECG_ELEC_POTL"
LEAD_CODES: dict[int, str] = {
    SCADA + 256: ECG_GENERIC,  # 131328 (NOM_ECG_ELEC_POTL)
    SCADA + 257: "MDC_ECG_ELEC_POTL_I",  # 131329
    SCADA + 258: "MDC_ECG_ELEC_POTL_II",  # 131330
    **{SCADA + 258 + i: f"MDC_ECG_ELEC_POTL_V{i}" for i in range(1, 7)},  # 131331..131336
    SCADA + 317: "MDC_ECG_ELEC_POTL_III",  # 131389
    SCADA + 318: "MDC_ECG_ELEC_POTL_AVR",
    SCADA + 319: "MDC_ECG_ELEC_POTL_AVL",
    SCADA + 320: "MDC_ECG_ELEC_POTL_AVF",
}
#: The waveform's sampling rate (PCD TF: an attribute OBX after the waveform OBX): ref id only.
SAMPLE_RATE_REF = "MDC_ATTR_SAMP_RATE"


@dataclass(frozen=True)
class Unit:
    kind: str  # rate | percent | pressure | temperature | voltage | frequency | flow
    ref: str  # the MDC reference id we write
    code: int  # the MDC numeric code we write (0: none confirmed)


#: Units by MDC reference id; (factor, offset) converts to the field's unit below.
UNITS: dict[str, Unit] = {
    "MDC_DIM_BEAT_PER_MIN": Unit("rate", "MDC_DIM_BEAT_PER_MIN", DIM + 2720),  # 264864
    "MDC_DIM_RESP_PER_MIN": Unit("rate", "MDC_DIM_RESP_PER_MIN", DIM + 2784),  # 264928
    "MDC_DIM_PER_MIN": Unit("rate", "MDC_DIM_PER_MIN", DIM + 2528),  # 264672
    "MDC_DIM_PERCENT": Unit("percent", "MDC_DIM_PERCENT", DIM + 544),  # 262688
    "MDC_DIM_MMHG": Unit("pressure", "MDC_DIM_MMHG", DIM + 3872),  # 266016
    "MDC_DIM_KILO_PASCAL": Unit("pressure", "MDC_DIM_KILO_PASCAL", DIM + 3843),  # 265987
    "MDC_DIM_DEGC": Unit("temperature", "MDC_DIM_DEGC", DIM + 6048),  # 268192
    "MDC_DIM_FAHR": Unit("temperature", "MDC_DIM_FAHR", DIM + 4416),  # 266560
    "MDC_DIM_MILLI_VOLT": Unit("voltage", "MDC_DIM_MILLI_VOLT", DIM + 4274),  # 266418
    "MDC_DIM_MICRO_VOLT": Unit("voltage", "MDC_DIM_MICRO_VOLT", DIM + 4275),  # 266419
    "MDC_DIM_HZ": Unit("frequency", "MDC_DIM_HZ", DIM + 2496),  # 264640
    # litres per minute: numeric code not confirmed, matched by reference id and UCUM only
    "MDC_DIM_L_PER_MIN": Unit("flow", "MDC_DIM_L_PER_MIN", 0),
}
UNIT_CODES: dict[int, str] = {u.code: ref for ref, u in UNITS.items() if u.code}
#: UCUM spellings (OBX-6 with coding system UCUM, as many gateways send) -> MDC reference id.
UCUM: dict[str, str] = {
    "/min": "MDC_DIM_PER_MIN",
    "{beat}/min": "MDC_DIM_BEAT_PER_MIN",
    "{beats}/min": "MDC_DIM_BEAT_PER_MIN",
    "{breath}/min": "MDC_DIM_RESP_PER_MIN",
    "{breaths}/min": "MDC_DIM_RESP_PER_MIN",
    "%": "MDC_DIM_PERCENT",
    "mm[Hg]": "MDC_DIM_MMHG",
    "kPa": "MDC_DIM_KILO_PASCAL",
    "Cel": "MDC_DIM_DEGC",
    "[degF]": "MDC_DIM_FAHR",
    "mV": "MDC_DIM_MILLI_VOLT",
    "uV": "MDC_DIM_MICRO_VOLT",
    "Hz": "MDC_DIM_HZ",
    "L/min": "MDC_DIM_L_PER_MIN",
    "l/min": "MDC_DIM_L_PER_MIN",
}

#: 1 kPa = 7.500617 mmHg (1 mmHg = 133.322387415 Pa, ISO 80000-4 / BIPM SI brochure note).
MMHG_PER_KPA = 1000.0 / 133.322387415


def to_field_unit(ref: str, value: _Value) -> _Value:
    """``value`` in unit ``ref`` converted to the unit of our fields (per minute, percent, mmHg,
    degrees Celsius, microvolts, hertz); a number, or a numpy array of them element-wise."""
    if ref == "MDC_DIM_KILO_PASCAL":
        return value * MMHG_PER_KPA
    if ref == "MDC_DIM_FAHR":
        return (value - 32.0) * 5.0 / 9.0
    if ref == "MDC_DIM_MILLI_VOLT":
        return value * 1000.0
    return value


#: HL7 table 0357 (message error condition codes) used in ERR-3.
HL7_ERRORS: dict[int, str] = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    203: "Unsupported version id",
    207: "Application internal error",
}
