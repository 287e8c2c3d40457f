"""PCD-01 ORU^R01 messages from our records: what the HL7 device simulator, the ECG replay over
HL7, the benchmark and the tests send (pure; the gateway's mapping, :mod:`.pcd01`, reads them
back to the same records).

- :func:`build_oru_r01`: one vitals reading. Device observations by MDC code and unit (NIBP
  mean as ``MDC_PRESS_BLD_NONINV_MEAN``); ``o2``, ``acvpu`` and ``spo2_scale`` with our local
  ``99WW`` codes (:data:`wardwatch.hl7.codes.LOCAL`), as a charting system would add them.
- :func:`build_waveform_r01`: one ECG chunk. One lead: an NA OBX; two leads (``lead2``): one MA
  OBX (HL7 v2 multiplexed array, ``c1^c2~c1^c2~...``) with a CD OBX naming its channels. Either
  way followed by the ``MDC_ATTR_SAMP_RATE`` OBX. Modified leads of Holter/MIT-BIH records
  (``MLII``, ``MV1``, ...) are sent as their standard lead's code (MDC has no modified-lead
  term we could confirm), so they come back as ``II``, ``V1``, ...
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wardwatch.hl7.codes import (
    ECG_GENERIC,
    LEAD_CODES,
    LEADS,
    LOCAL_SYSTEM,
    OBSERVATION_CODES,
    SAMPLE_RATE_REF,
    UNITS,
)
from wardwatch.hl7.pcd01 import escape

#: What the builder writes for each numeric vitals field: (reference id, unit reference id).
BUILD: dict[str, tuple[str, str]] = {
    "hr_bpm": ("MDC_ECG_HEART_RATE", "MDC_DIM_BEAT_PER_MIN"),
    "spo2_pct": ("MDC_PULS_OXIM_SAT_O2", "MDC_DIM_PERCENT"),
    "rr_bpm": ("MDC_RESP_RATE", "MDC_DIM_RESP_PER_MIN"),
    "sbp_mmhg": ("MDC_PRESS_BLD_NONINV_SYS", "MDC_DIM_MMHG"),
    "dbp_mmhg": ("MDC_PRESS_BLD_NONINV_DIA", "MDC_DIM_MMHG"),
    "map_mmhg": ("MDC_PRESS_BLD_NONINV_MEAN", "MDC_DIM_MMHG"),
    "temp_c": ("MDC_TEMP", "MDC_DIM_DEGC"),
}
_CODE_OF = {ref: code for code, ref in {**OBSERVATION_CODES, **LEAD_CODES}.items()}
#: Our lead name -> MDC lead reference id (modified leads as their standard lead).
LEAD_REF = {
    **{lead: ref for ref, lead in LEADS.items()},
    **{f"ML{x}": f"MDC_ECG_ELEC_POTL_{x}" for x in ("I", "II", "III")},
    **{f"MV{i}": f"MDC_ECG_ELEC_POTL_V{i}" for i in range(1, 7)},
}


def _dtm(ts: datetime) -> str:
    off = ts.utcoffset() or timedelta(0)
    sign = "-" if off < timedelta(0) else "+"
    minutes = int(abs(off).total_seconds() // 60)
    frac = f".{ts.microsecond // 100:04d}" if ts.microsecond else ""
    return ts.strftime("%Y%m%d%H%M%S") + frac + f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def _header(control_id: str, ts: datetime, patient_id: str, bed: str, device: str) -> list[str]:
    return [
        f"MSH|^~\\&|{escape(device)}^WARDWATCH_SIM||||{_dtm(ts)}||ORU^R01^ORU_R01|{escape(control_id)}|P|2.6"
        "|||NE|AL||||||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
        f"PID|||{escape(patient_id)}^^^WARDWATCH^MR",
        f"PV1||I|{escape(bed)}",
        f"OBR|1|{escape(control_id)}^WARDWATCH_SIM||182777000^monitoring of patient^SNOMED-CT|||{_dtm(ts)}",
        f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||{escape(device)}",
    ]


def _coded(ref: str) -> str:
    code = _CODE_OF.get(ref)
    return f"{code}^{ref}^MDC" if code else f"^{ref}^MDC"


def build_oru_r01(reading: dict[str, Any], control_id: str, device: str = "SIM-MON") -> str:
    """A PCD-01 ORU^R01 for one vitals reading (wire format dict).

    >>> from simulators.vitals import ward_plan, ward_readings
    >>> _, (r, *_) = next(ward_readings(ward_plan(1), duration_s=1))
    >>> build_oru_r01(r, "C1").count("\\rOBX|") >= 4
    True
    """
    ts = datetime.fromisoformat(reading["ts"])
    stamp = _dtm(ts)
    lines = _header(control_id, ts, reading["patient_id"], reading["bed"], device)
    for name, (ref, unit_ref) in BUILD.items():
        if reading.get(name) is None:
            continue
        unit = UNITS[unit_ref]
        n = len(lines) - 3
        lines.append(
            f"OBX|{n}|NM|{_coded(ref)}|1.0.{n}.1|{reading[name]}|{unit.code}^{unit.ref}^MDC|||||R|||{stamp}"
        )
    charted = {
        "ON_O2": ("CWE", "On supplemental oxygen", {"oxygen": "Y", "air": "N"}.get(reading.get("o2") or "")),
        "ACVPU": ("CWE", "ACVPU level of consciousness", reading.get("acvpu")),
        "SPO2_SCALE": ("NM", "NEWS2 SpO2 scale", reading.get("spo2_scale")),
    }
    for code, (vtype, text, value) in charted.items():
        if value is not None:
            n = len(lines) - 3
            lines.append(f"OBX|{n}|{vtype}|{code}^{text}^{LOCAL_SYSTEM}|0.0.0.{n}|{value}||||||R|||{stamp}")
    return "\r".join(lines) + "\r"


def build_waveform_r01(chunk: dict[str, Any], control_id: str, device: str = "SIM-MON") -> str:
    """A PCD-01 ORU^R01 carrying one ECG chunk (wire format dict) in microvolts: NA for one
    lead, a two-channel MA and its CD channel definition when the chunk has ``lead2``; then the
    ``MDC_ATTR_SAMP_RATE`` OBX in Hz."""
    ts = datetime.fromisoformat(chunk["ts"])
    lines = _header(control_id, ts, chunk["patient_id"], chunk["bed"], device)
    uv, hz = UNITS["MDC_DIM_MICRO_VOLT"], UNITS["MDC_DIM_HZ"]
    unit = f"{uv.code}^{uv.ref}^MDC"
    if chunk.get("lead2") and chunk.get("ecg2_uv") is not None:
        refs = [LEAD_REF[chunk["lead"]], LEAD_REF[chunk["lead2"]]]
        samples = "~".join(
            f"{int(a)}^{int(b)}" for a, b in zip(chunk["ecg_uv"], chunk["ecg2_uv"], strict=True)
        )
        lines.append(f"OBX|2|MA|{_coded(ECG_GENERIC)}|1.1.1.1|{samples}|{unit}|||||R|||{_dtm(ts)}")
        names = "~".join(f"{k}&{ref}" for k, ref in enumerate(refs, start=1))
        lines.append(f"OBX|3|CD|CHN^channel definition^{LOCAL_SYSTEM}|1.1.1.1.2|{names}||||||R")
    else:
        samples = "^".join(str(int(v)) for v in chunk["ecg_uv"])
        lines.append(
            f"OBX|2|NA|{_coded(LEAD_REF[chunk['lead']])}|1.1.1.1|{samples}|{unit}|||||R|||{_dtm(ts)}"
        )
    n = len(lines) - 3
    lines.append(f"OBX|{n}|NM|^{SAMPLE_RATE_REF}^MDC|1.1.1.1.1|{chunk['fs_hz']}|{hz.code}^{hz.ref}^MDC|||||R")
    return "\r".join(lines) + "\r"
