"""IHE PCD-01 (ORU^R01) <-> our vitals readings and ECG chunks; the ACK with its ERR segment (pure).

:func:`map_message` takes the raw text of one ORU^R01 (parsed with python-hl7: no parser of our
own) and returns the records for ``vitals`` and ``ecg``, each validated by the same functions as
JSON input (:func:`~wardwatch.records.vitals.vitals_validate`,
:func:`~wardwatch.records.ecg.ecg_validate`), or raises :class:`HL7Error` carrying the HL7 error
(table 0357 code, ERR-2 location, AE or AR) and our dead-letter reason code.

Mapping (codes and their sources: :mod:`wardwatch.hl7.codes`):

- patient: PID-3, first repetition, CX.1 (required: AE 101 without it);
- bed: PV1-3 (PL components joined with ``-``), else the device id (OBX-18 EI.1); neither: AE 101;
- time: OBX-14, else OBR-7; an HL7 DTM with a UTC offset (no offset: AE 102, never a guess);
- numerics (value type NM) by MDC code, OBX-3.1 numeric code or OBX-3.2 reference id (or LOINC
  for the O2 flow); units by OBX-6 (MDC code, MDC reference id or UCUM), converted to our fields'
  units; an unknown unit or one of the wrong kind is AE 103, never a guess. One vitals reading per
  distinct observation time; a field with several sources (heart rate; arterial line or cuff
  pressures; O2) by :data:`~wardwatch.hl7.codes.PRECEDENCE`. Inspired O2 fraction and O2 flow
  decide ``o2`` (:func:`~wardwatch.hl7.codes.on_oxygen`);
- charted observations with our local codes (``99WW``: ``ON_O2``, ``ACVPU``, ``SPO2_SCALE``;
  :data:`~wardwatch.hl7.codes.LOCAL`): a value outside their table is AE 103 ``bad_value``; the
  SpO2 scale holds for every reading of its message;
- waveforms of ECG leads: NA (one channel) or MA (HL7 v2 multiplexed array: one repetition per
  sample time, one component per channel; more than one channel needs the CD channel-definition
  OBX after it naming each channel's lead); samples converted to integer microvolts; the sampling
  rate from the ``MDC_ATTR_SAMP_RATE`` OBX that follows the waveform OBX (or the CD's sampling
  frequency). Channels sampled together become chunks of two leads (II first when present; a
  third and further channels are counted as skipped). Cut into chunks of at most 1 s; ``seq`` is
  the chunk's start time in chunk lengths since the epoch (stateless: a re-sent message gives the
  same seq, which the ECG stream rejects as a duplicate; a missing second shows as a gap).
- OBX rows without a value type (the MDS/VMD/channel containment rows of PCD-01), with result
  status X (cannot be obtained) and of MDC codes we do not map are passed over (counted).
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import hl7
import numpy as np
import orjson
from hl7.datatypes import parse_datetime
from hl7.parser import _ParsePlan, _split, create_parse_plan
from hl7.util import generate_message_control_id

from wardwatch.hl7.codes import (
    ECG_GENERIC,
    FIO2_RANGE_PCT,
    HL7_ERRORS,
    LEAD_CODES,
    LEADS,
    LOCAL,
    LOCAL_SYSTEM,
    O2_FLOW_RANGE_L_MIN,
    OBSERVATION_CODES,
    OBSERVATIONS,
    PRECEDENCE,
    SAMPLE_RATE_REF,
    UCUM,
    UNIT_CODES,
    UNITS,
    YES_NO_O2,
    on_oxygen,
    to_field_unit,
)
from wardwatch.records.ecg import MAX_ABS_UV, ecg_chunk_dict, ecg_validate
from wardwatch.records.errors import InvalidRecord
from wardwatch.records.vitals import ACVPU, vitals_validate

AckCode = Literal["AE", "AR"]
#: Message versions accepted (PCD-01 is profiled on HL7 v2.6; 2.5 to 2.8 share the segments used).
VERSIONS = ("2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8")
#: Chunk length for ECG cut from a waveform OBX (the ``ecg`` topic's one-second convention).
CHUNK_S = 1.0
#: Escapes of the standard delimiters in a text we write (HL7 v2 section 2.7).
_ESC = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
#: :func:`escape` as one ``str.translate``: line breaks become spaces, delimiters their escapes.
_ESC_TABLE = str.maketrans({**_ESC, "\r": " ", "\n": " "})


class HL7Error(ValueError):
    """A message the gateway cannot use: ``hl7_code`` (table 0357), ``ack`` (AE or AR), the ERR-2
    location (segment, its sequence among segments of that id, field, component), and ``code``, the
    dead-letter reason (:data:`wardwatch.records.errors.CODES`)."""

    def __init__(
        self,
        hl7_code: int,
        message: str,
        *,
        ack: AckCode = "AE",
        code: str = "malformed",
        segment: str = "",
        seq: int = 1,
        field_no: int | None = None,
        component: int | None = None,
    ) -> None:
        super().__init__(f"{hl7_code} {HL7_ERRORS.get(hl7_code, '')}: {message}")
        self.hl7_code = hl7_code
        self.message = message
        self.ack: AckCode = ack
        self.code = code
        self.segment = segment
        self.seq = seq
        self.field_no = field_no
        self.component = component

    @property
    def location(self) -> str:
        """ERR-2 (ERL): ``segment^sequence^field^repetition^component``."""
        if not self.segment:
            return ""
        parts = [self.segment, str(self.seq)]
        if self.field_no is not None:
            parts += [str(self.field_no), "1"]
            if self.component is not None:
                parts.append(str(self.component))
        return "^".join(parts)

    def invalid_record(self) -> InvalidRecord:
        """The same error as the dead letter's reason."""
        where = f" at {self.location.replace('^', '.')}" if self.segment else ""
        return InvalidRecord(self.code, f"HL7 {self.hl7_code}{where}: {self.message}", self.location or None)


@dataclass
class Mapped:
    """What one ORU^R01 becomes: ``(topic, key, value)`` records, ready to produce."""

    control_id: str
    patient_id: str
    bed: str
    device: str | None
    vitals: list[dict[str, Any]] = field(default_factory=list)
    ecg: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    def records(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [("vitals", self.patient_id, v) for v in self.vitals] + [
            ("ecg", self.patient_id, c) for c in self.ecg
        ]


# --------------------------------------------------------------------------- parsed-tree access
def _reps(seg: Any, n: int) -> list[list[str]]:
    """Field ``n`` of a python-hl7 segment: its repetitions, each a list of component strings."""
    if n >= len(seg):
        return []
    out: list[list[str]] = []
    for rep in seg[n]:
        out.append([rep] if isinstance(rep, str) else [str(c) for c in rep])
    return out


def _get(seg: Any, n: int, comp: int = 1, rep: int = 1) -> str:
    """Component ``comp`` of repetition ``rep`` of field ``n`` ('' when absent)."""
    if n >= len(seg):
        return ""
    f = seg[n]
    if isinstance(f, hl7.Field):  # read through its view: python-hl7's components, once per field
        view = f.__dict__.get("_ww_view")
        if view is None:
            view = f._ww_view = [
                (r.strip(),) if isinstance(r, str) else tuple(str(c).strip() for c in r) for r in f
            ]
        if len(view) < rep:
            return ""
        v = view[rep - 1]
        return v[comp - 1] if len(v) >= comp else ""
    if len(f) < rep:
        return ""
    r = f[rep - 1]
    if isinstance(r, str):
        return r.strip() if comp == 1 else ""
    return str(r[comp - 1]).strip() if len(r) >= comp else ""


def parse(text: str) -> hl7.Message:
    """python-hl7's parse, every failure as AR 102 (an unparseable message is rejected).

    Parsed lazily (:func:`parse_lazy`): the same tree as ``hl7.parse``, but each field is split
    by python-hl7 only when it is read."""
    if not text.startswith("MSH") or len(text) < 8:
        raise HL7Error(100, "the message does not begin with an MSH segment", ack="AR", segment="MSH")
    try:
        return parse_lazy(text)
    except Exception as e:  # noqa: BLE001 - python-hl7 raises IndexError/ParseException/...
        raise HL7Error(102, f"unparseable ({type(e).__name__})", ack="AR", segment="MSH") from None


class _LazySegment(hl7.Segment):
    """A python-hl7 segment whose fields are kept as text until read; reading field ``n`` splits
    it with python-hl7's own parse plan (``hl7.parser._split`` at the field level), so it is
    exactly the field ``hl7.parse`` would have built, and it is kept."""

    def __init__(
        self,
        separator: str | None = None,
        sequence: Any = (),
        esc: str = "\\",
        separators: str = "\r|~^&",
        factory: Any = None,
        field_plan: Any = None,
    ) -> None:
        super().__init__(separator, list(sequence), esc, separators, factory)
        self.field_plan = field_plan

    def __getitem__(self, item: Any) -> Any:
        v = list.__getitem__(self, item) if type(item) is int else super().__getitem__(item)
        if type(v) is str and self.field_plan is not None:
            p = self.field_plan
            v = _field(v, p.separators, p.esc) if len(v) <= _CACHED_FIELD_LEN else _split(v, p)
            list.__setitem__(self, item, v)
        elif isinstance(v, _LazySegment):  # a slice (python-hl7's str() of an MSH takes one)
            v.field_plan = self.field_plan
        return v

    def raw(self, n: int) -> str | None:
        """Field ``n``'s text while it is still unsplit (None once read or absent): for a
        waveform's sample array, converted in one go (:func:`_wave`) instead of field by field."""
        if n >= len(self):
            return None
        v: Any = list.__getitem__(self, n)
        return v if type(v) is str and self.field_plan is not None else None


#: Fields up to this long are split once per distinct text (codes, units, value types, times
#: and values repeat from message to message), longer ones (waveform arrays) every time.
_CACHED_FIELD_LEN = 96


@functools.lru_cache(maxsize=8192)
def _field(text: str, separators: str, esc: str) -> Any:
    """python-hl7's field for ``text`` (its parse plan at the field level), shared between the
    messages that carry the same text: nothing here modifies a parsed tree."""
    return _split(text, _field_plan(separators, esc))


@functools.lru_cache(maxsize=64)
def _field_plan(separators: str, esc: str) -> Any:
    return _ParsePlan(separators[2], separators, _FIELD_CONTAINERS, esc, hl7.Factory)


_FIELD_CONTAINERS = [
    hl7.Factory.create_field,
    hl7.Factory.create_repetition,
    hl7.Factory.create_component,
]


class _SegmentsPlan(_ParsePlan):
    """python-hl7's parse plan stopped below the segment: ``_split`` with it splits the message
    into segments and each segment into its fields' text (python-hl7's own code path, MSH's
    separator fields included); the fields are split when read (:class:`_LazySegment`)."""

    field_plan: Any = None
    _applied = False
    _segment_plan: Any = None

    def next(self) -> Any:
        if self.separator != self.separators[0]:
            return None  # segment level: its fields stay text
        if self._segment_plan is None:  # one per message: _split uses it for one segment at a time
            p = _SegmentsPlan(
                self.separators[1], self.separators, self.containers[1:], self.esc, self.factory
            )
            p.field_plan = self.field_plan
            self._segment_plan = p
        return self._segment_plan

    def applies(self, text: str) -> bool:
        self._applied = bool(super().applies(text))
        return self._applied

    def container(self, data: Any) -> Any:
        if self.separator == self.separators[1] and self._applied:
            return _LazySegment(
                sequence=data,
                esc=self.esc,
                separators=self.separators,
                factory=self.factory,
                field_plan=self.field_plan,
            )
        # a segment without any separator stays as python-hl7 builds it (its one item is text)
        return super().container(data)


def parse_lazy(text: str) -> hl7.Message:
    """``hl7.parse(text)`` with every segment a :class:`_LazySegment`: python-hl7 splits the
    message, its segments and, when read, their fields; a message whose delimiters are not five
    distinct characters is parsed by ``hl7.parse`` itself (its plan there is not one level per
    delimiter)."""
    strmsg = text.strip()
    plan = create_parse_plan(strmsg)
    seps = plan.separators
    if len(seps) != 5 or len(set(seps)) != 5:
        return hl7.parse(text)
    lazy = _SegmentsPlan(plan.separator, seps, plan.containers, plan.esc, plan.factory)
    lazy.field_plan = plan.next().next()
    return _split(strmsg, lazy)


def hl7_time(value: str, where: tuple[str, int, int]) -> datetime:
    """An HL7 DTM with its UTC offset as an aware datetime; AE 102 otherwise."""
    ts = _good_time(value)
    return ts if ts is not None else _hl7_time(value, where)


@functools.lru_cache(maxsize=4096)
def _good_time(value: str) -> datetime | None:
    """:func:`hl7_time` of a time that is good (None otherwise), once per distinct text: every
    OBX of a message usually carries the same time (datetimes are immutable, so shared)."""
    try:
        return _hl7_time(value, ("", 0, 0))
    except HL7Error:
        return None


def _hl7_time(value: str, where: tuple[str, int, int]) -> datetime:
    seg, seq, fno = where
    if not re.fullmatch(r"\d{8,14}(\.\d{1,4})?[+-]\d{4}", value):
        why = "has no UTC offset" if re.fullmatch(r"\d{8,14}(\.\d{1,4})?", value) else "is not an HL7 DTM"
        raise HL7Error(
            102, f"time {value[:30]!r} {why}", code="bad_timestamp", segment=seg, seq=seq, field_no=fno
        )
    try:
        ts = parse_datetime(value)
    except (ValueError, TypeError, OverflowError):
        raise HL7Error(
            102,
            f"time {value[:30]!r} is not a date",
            code="bad_timestamp",
            segment=seg,
            seq=seq,
            field_no=fno,
        ) from None
    if ts is None or ts.tzinfo is None:
        raise HL7Error(102, "time without offset", code="bad_timestamp", segment=seg, seq=seq, field_no=fno)
    return ts


def _number(value: str, where: tuple[str, int, int]) -> float:
    try:
        v = float(value)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        seg, seq, fno = where
        raise HL7Error(
            102, f"value {value[:20]!r} is not a number", code="malformed", segment=seg, seq=seq, field_no=fno
        )
    return v


def _per_field(seg: Any, n: int, key: str, compute: Any) -> Any:
    """``compute(seg)``, a function of field ``n`` alone, kept on that python-hl7 field (fields of
    the same text are one object across messages: see :func:`_field`)."""
    f = seg[n] if n < len(seg) else None
    if not isinstance(f, hl7.Field):
        return compute(seg)
    d = f.__dict__
    if key not in d:
        d[key] = compute(seg)
    return d[key]


def _code_ref(seg: Any) -> str | None:
    """What OBX-3 identifies: an MDC reference id (from OBX-3.2, or the numeric code in OBX-3.1),
    ``LN:<code>`` for a LOINC code, ``99WW:<code>`` for one of our local codes."""
    return _per_field(seg, 3, "_ww_ref", _code_ref_of)


def _code_ref_of(seg: Any) -> str | None:
    ident, text, system = _get(seg, 3, 1), _get(seg, 3, 2), _get(seg, 3, 3).upper()
    if system == LOCAL_SYSTEM:
        return f"{LOCAL_SYSTEM}:{ident}"
    if system in ("LN", "LOINC"):
        return f"LN:{ident}"
    if text.startswith("MDC_"):
        return text
    if ident.isdigit():
        n = int(ident)
        return OBSERVATION_CODES.get(n) or LEAD_CODES.get(n)
    return ident if ident.startswith("MDC_") else None


def _unit(seg: Any, seq: int, kinds: tuple[str, ...]) -> str:
    """OBX-6 as an MDC unit reference id of one of ``kinds``; AE 103 when unknown or of another
    kind, AE 101 when absent."""
    ident, text, system, ref = _per_field(seg, 6, "_ww_unit", _unit_of)
    if not ident and not text:
        raise HL7Error(101, "OBX-6 units missing", code="missing_field", segment="OBX", seq=seq, field_no=6)
    if ref is None:
        shown = "^".join(x for x in (ident, text, system) if x)[:60]
        raise HL7Error(103, f"unknown unit {shown!r}", code="wrong_unit", segment="OBX", seq=seq, field_no=6)
    if UNITS[ref].kind not in kinds:
        raise HL7Error(
            103,
            f"unit {ref} is not a {' or '.join(kinds)} unit for {_get(seg, 3, 2) or _get(seg, 3, 1)}",
            code="wrong_unit",
            segment="OBX",
            seq=seq,
            field_no=6,
        )
    return ref


def _unit_of(seg: Any) -> tuple[str, str, str, str | None]:
    """OBX-6's identifier, text, coding system and the MDC unit reference id they name (or None)."""
    ident, text, system = _get(seg, 6, 1), _get(seg, 6, 2), _get(seg, 6, 3)
    ref = None
    if text in UNITS:
        ref = text
    elif ident in UNITS:
        ref = ident
    elif ident.isdigit() and int(ident) in UNIT_CODES:
        ref = UNIT_CODES[int(ident)]
    elif system.upper() in ("UCUM", "") and ident in UCUM:
        ref = UCUM[ident]
    return ident, text, system, ref


# --------------------------------------------------------------------------- message checks
#: The message types :func:`map_message` takes (the gateway also takes ADT: wardwatch.hl7.adt).
ORU_R01 = frozenset({("ORU", "R01")})


def check_header(
    msg: hl7.Message, taken: frozenset[tuple[str, str]] = ORU_R01
) -> tuple[str, tuple[str, str]]:
    """MSH-9 must be one of ``taken`` (type, event) and MSH-12 a version we take (AR 200/201/203);
    returns MSH-10 (the control id) and MSH-9's (type, event)."""
    msh = msg[0]
    mtype, event = _get(msh, 9, 1), _get(msh, 9, 2)
    names = ", ".join(f"{t}^{e}" for t, e in sorted(taken))
    if mtype not in {t for t, _ in taken}:
        raise HL7Error(
            200,
            f"message type {mtype[:10]!r}: taken: {names}",
            ack="AR",
            code="unsupported",
            segment="MSH",
            field_no=9,
        )
    if (mtype, event) not in taken:
        raise HL7Error(
            201,
            f"event {event[:10]!r}: taken: {names}",
            ack="AR",
            code="unsupported",
            segment="MSH",
            field_no=9,
            component=2,
        )
    version = _get(msh, 12, 1)
    if version not in VERSIONS:
        raise HL7Error(
            203,
            f"HL7 version {version[:10]!r}; taken: {', '.join(VERSIONS)}",
            ack="AR",
            code="unsupported",
            segment="MSH",
            field_no=12,
        )
    return _get(msh, 10, 1), (mtype, event)


def _segments(msg: hl7.Message, name: str) -> list[Any]:
    return [s for s in msg if len(s) and str(s[0]) == name]


def _by_name(msg: hl7.Message) -> dict[str, list[Any]]:
    """The message's segments by segment id, in message order (one walk of the message)."""
    out: dict[str, list[Any]] = {}
    for s in msg:
        if len(s):
            out.setdefault(str(s[0]), []).append(s)
    return out


def _patient(segs: dict[str, list[Any]]) -> str:
    pids = segs.get("PID", [])
    if not pids:
        raise HL7Error(100, "no PID segment", code="missing_field", segment="PID")
    pid = _get(pids[0], 3, 1)
    if not pid:
        raise HL7Error(
            101, "PID-3 patient identifier missing", code="missing_field", segment="PID", field_no=3
        )
    if len(pid) > 64:
        raise HL7Error(102, "PID-3 longer than 64 characters", code="malformed", segment="PID", field_no=3)
    return pid


def patient_of(text: str) -> str | None:
    """PID-3.1 of a message that may not map (the dead letter's key), None when there is none."""
    try:
        pids = _segments(hl7.parse(text), "PID") if text.startswith("MSH") else []
    except Exception:  # noqa: BLE001 - best effort only
        return None
    pid = _get(pids[0], 3, 1) if pids else ""
    return pid[:64] or None


def _bed(segs: dict[str, list[Any]], device: str | None) -> str:
    pv1 = segs.get("PV1", [])
    if pv1:
        parts = [c for c in (_reps(pv1[0], 3)[:1] or [[]])[0] if c.strip()]
        if parts:
            return "-".join(p.strip() for p in parts)[:64]
    if device:
        return device[:64]
    raise HL7Error(101, "no bed: PV1-3 and OBX-18 are empty", code="missing_field", segment="PV1", field_no=3)


# --------------------------------------------------------------------------- mapping
@dataclass
class _Wave:
    """One waveform OBX (NA: one channel; MA: one or more), its leads and its sampling rate."""

    seq: int  # OBX segment sequence, for errors
    ts: datetime
    channels: list[np.ndarray]  # samples in uV (float), per channel
    leads: list[str]  # lead of each channel ([] until a CD OBX names an MA's channels)
    fs: float | None = None


def map_message(text: str | hl7.Message, now: datetime | None = None) -> Mapped:
    """Map one PCD-01 ORU^R01 (the text inside the MLLP frame, or it parsed by :func:`parse`) to
    our records; :class:`HL7Error` for anything it cannot use."""
    try:
        return _map(parse(text) if isinstance(text, str) else text, now)
    except HL7Error:
        raise
    except (IndexError, KeyError, TypeError, AttributeError, ValueError) as e:  # a tree too broken to walk
        raise HL7Error(102, f"unreadable message structure ({type(e).__name__})", ack="AR") from None


def _map(msg: hl7.Message, now: datetime | None) -> Mapped:
    control_id, _ = check_header(msg)
    segs = _by_name(msg)
    patient = _patient(segs)
    obxs = segs.get("OBX", [])
    if not obxs:
        raise HL7Error(100, "no OBX segment", code="no_measurement", segment="OBX")
    obr = segs.get("OBR", [])
    obr_ts = _get(obr[0], 7) if obr else ""
    device = next((_get(o, 18, 1) for o in obxs if _get(o, 18, 1)), None)
    bed = _bed(segs, device)

    by_time: dict[datetime, dict[str, Any]] = {}
    scale: int | None = None
    waves: list[_Wave] = []
    skipped = 0
    for i, o in enumerate(obxs, start=1):
        vtype, status = _get(o, 2), _get(o, 11)
        ref = _code_ref(o)
        if not vtype or status == "X":
            skipped += 1
            continue
        if vtype == "CD" or ref == SAMPLE_RATE_REF:
            skipped += _wave_attribute(o, i, vtype, waves[-1] if waves else None)
            continue
        if ref is None or not (ref in OBSERVATIONS or ref in LEADS or ref == ECG_GENERIC or _local(ref)):
            skipped += 1
            continue
        if _local(ref) == "spo2_scale":  # a prescribing decision: holds for the whole message
            scale = _spo2_scale(o, i, scale)
            continue
        ts = _obx_time(o, i, obr_ts)
        if ref in LEADS or ref == ECG_GENERIC:
            waves.append(_wave(o, i, vtype, ts, LEADS.get(ref)))
            continue
        _observation(o, i, ref, by_time.setdefault(ts, {}))

    out = Mapped(control_id, patient, bed, device, skipped=skipped)
    for ts in sorted(by_time):
        out.vitals.append(_reading(patient, bed, ts, by_time[ts], scale, now))
    chunks, dropped = _wave_chunks(patient, bed, waves, now)
    out.ecg, out.skipped = chunks, out.skipped + dropped
    if not out.vitals and not out.ecg:
        raise HL7Error(
            101, "no observation the gateway maps (see the README)", code="no_measurement", segment="OBX"
        )
    return out


def _wave_attribute(o: Any, seq: int, vtype: str, w: _Wave | None) -> int:
    """A waveform's attribute OBX (the waveform OBX before it): its ``MDC_ATTR_SAMP_RATE``, or a
    CD (HL7 v2 channel definition) naming an MA's channels. 1 when there is nothing to attach
    it to (passed over), else 0."""
    if vtype == "CD":
        if w is None or w.leads:
            return 1
        _channel_definition(o, seq, w)
    elif w is not None and w.fs is None:
        unit = _unit(o, seq, ("frequency",))
        w.fs = to_field_unit(unit, _number(_get(o, 5), ("OBX", seq, 5)))
    return 0


def _observation(o: Any, seq: int, ref: str, values: dict[str, Any]) -> None:
    """One non-waveform OBX into ``values`` (its time's candidates; the first of each kept)."""
    local = _local(ref)
    if local == "o2":
        values.setdefault("o2:charted", _coded_value(o, seq, YES_NO_O2, "Y (on oxygen) or N (air)"))
        return
    if local == "acvpu":
        values.setdefault("acvpu", _coded_value(o, seq, {a: a for a in ACVPU}, "A, C, V, P or U"))
        return
    vtype = _get(o, 2)
    if vtype != "NM":
        raise HL7Error(102, f"{ref} must be NM, got {vtype[:5]!r}", segment="OBX", seq=seq, field_no=2)
    name, kind = OBSERVATIONS[ref]
    value = to_field_unit(_unit(o, seq, (kind,)), _number(_get(o, 5), ("OBX", seq, 5)))
    if name in ("fio2", "o2_flow"):
        lo, hi = FIO2_RANGE_PCT if name == "fio2" else O2_FLOW_RANGE_L_MIN
        if not lo <= value <= hi:
            raise HL7Error(
                207,
                f"{ref}={value:g} outside [{lo:g}, {hi:g}]",
                code="out_of_range",
                segment="OBX",
                seq=seq,
                field_no=5,
            )
        values.setdefault(f"o2:{name}", on_oxygen(name, value))
        return
    values.setdefault(name, value)


def _local(ref: str) -> str | None:
    """Our field for one of our local ``99WW`` codes, else None."""
    prefix = LOCAL_SYSTEM + ":"
    return LOCAL.get(ref[len(prefix) :]) if ref.startswith(prefix) else None


def _coded_value(o: Any, seq: int, table: dict[str, str], expected: str) -> str:
    """OBX-5.1 (CWE or ST) looked up in ``table``; AE 103 (code ``bad_value``) otherwise."""
    if _get(o, 2) not in ("CWE", "CE", "CNE", "ST"):
        raise HL7Error(
            102, f"value type {_get(o, 2)[:5]!r}: expected CWE or ST", segment="OBX", seq=seq, field_no=2
        )
    value = _get(o, 5, 1).upper()
    if value not in table:
        raise HL7Error(
            103,
            f"value {value[:10]!r}: expected {expected}",
            code="bad_value",
            segment="OBX",
            seq=seq,
            field_no=5,
        )
    return table[value]


def _spo2_scale(o: Any, seq: int, before: int | None) -> int:
    v = _number(_get(o, 5), ("OBX", seq, 5))
    if v not in (1, 2) or (before is not None and before != v):
        why = "another scale earlier in the message" if v in (1, 2) else "expected 1 or 2"
        raise HL7Error(103, f"SpO2 scale {v:g}: {why}", code="bad_value", segment="OBX", seq=seq, field_no=5)
    return int(v)


def _obx_time(o: Any, seq: int, obr_ts: str) -> datetime:
    """OBX-14, else OBR-7, as an aware datetime."""
    raw = _get(o, 14)
    if raw:
        return hl7_time(raw, ("OBX", seq, 14))
    if not obr_ts:
        raise HL7Error(
            101,
            "no observation time (OBX-14, OBR-7)",
            code="bad_timestamp",
            segment="OBX",
            seq=seq,
            field_no=14,
        )
    return hl7_time(obr_ts, ("OBR", 1, 7))


def _wave(o: Any, seq: int, vtype: str, ts: datetime, lead: str | None) -> _Wave:
    """A waveform OBX: NA (``v1^v2^...``: one channel) or MA (HL7 v2 multiplexed array:
    ``c1^c2~c1^c2~...``, one repetition per sample time, one component per channel), in uV."""
    samples = _wave_samples(o, vtype)
    if samples is not None:  # a well-formed array: converted in one go
        unit = _unit(o, seq, ("voltage",))
        uv = to_field_unit(unit, samples)
        channels = [uv[:, c] for c in range(uv.shape[1])]
    else:  # anything else, sample by sample from python-hl7's tree: the same values, or the error
        rows = _wave_rows(o, seq, vtype)
        unit = _unit(o, seq, ("voltage",))
        width = len(rows[0]) if rows else 1
        channels = [
            np.array([to_field_unit(unit, _number(r[c], ("OBX", seq, 5))) for r in rows], dtype=np.float64)
            for c in range(width)
        ]
    # one channel: OBX-3 names it; several: the CD OBX after it must (HL7 v2 ch. 7 channel definition)
    leads = [lead] if len(channels) == 1 and lead is not None else []
    return _Wave(seq, ts, channels, leads)


def _wave_rows(o: Any, seq: int, vtype: str) -> list[list[str]]:
    """OBX-5 of a waveform as python-hl7 splits it: one list of channel values per sample time."""
    reps = _reps(o, 5)
    if vtype == "NA" and len(reps) == 1:
        return [[v] for v in reps[0] if v != ""]
    if vtype == "MA" and reps:
        width = len(reps[0])
        if any(len(r) != width or "" in r for r in reps):
            raise HL7Error(
                102,
                f"MA sample sets must all have {width} channel value(s)",
                segment="OBX",
                seq=seq,
                field_no=5,
            )
        return reps
    raise HL7Error(
        102,
        f"waveform must be NA (one repetition) or MA, got {vtype[:5]!r}",
        segment="OBX",
        seq=seq,
        field_no=5,
    )


def _wave_samples(o: Any, vtype: str) -> np.ndarray | None:
    """A waveform's samples (sample times x channels, as ``float``) straight from OBX-5's text,
    when it is a well-formed numeric array; None for anything else (the caller then reads
    python-hl7's tree value by value, which gives the same numbers or the typed error).

    python-hl7 splits a field at its repetition delimiter, then each repetition at its component
    delimiter, so the component texts are exactly ``text.split(rep)`` then ``.split(comp)``; the
    array is accepted only when every sample time has the same number of channels, no value is
    empty and each value is a finite ``float()`` (what :func:`_number` takes), so this is the
    numeric array of :func:`_wave_rows` converted at once, not another reading of HL7."""
    text = o.raw(5) if isinstance(o, _LazySegment) else None
    if not text:
        return None
    rep, comp = o.separators[2], o.separators[3]
    if vtype == "NA":
        if rep in text:
            return None
        tokens = [t for t in text.split(comp) if t != ""]
        width = 1
    elif vtype == "MA":
        width = text.split(rep, 1)[0].count(comp) + 1
        if not _uniform_rows(text, rep, comp, width):
            return None
        tokens = text.replace(rep, comp).split(comp)
    else:
        return None
    try:
        values = np.array(list(map(float, tokens)), dtype=np.float64)
    except ValueError:  # "" or not a number: the slow path says which
        return None
    if values.size == 0 or not np.isfinite(values).all():
        return None
    return values.reshape(-1, width)


def _uniform_rows(text: str, rep: str, comp: str, width: int) -> bool:
    """Whether every repetition of ``text`` has ``width`` components: its delimiters, in order,
    are ``(comp * (width - 1) + rep) * (n - 1) + comp * (width - 1)``."""
    if max(ord(rep), ord(comp)) > 127:
        return False
    try:
        b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return False
    delims = b[(b == ord(rep)) | (b == ord(comp))]
    if (delims.size + 1) % width:
        return False
    rows = np.append(delims, np.uint8(ord(rep))).reshape(-1, width)
    return bool((rows[:, -1] == ord(rep)).all() and (rows[:, :-1] == ord(comp)).all())


def _channel_definition(o: Any, seq: int, w: _Wave) -> None:
    """A CD OBX (HL7 v2 channel definition, one repetition per channel): CD.1 is
    ``<channel number>&<channel name>``, the name an MDC lead (reference id or numeric code);
    CD.5, when present, the sampling frequency in Hz."""
    leads = []
    for k, rep in enumerate(o[5] if len(o) > 5 else [], start=1):
        comp1 = rep[0] if not isinstance(rep, str) else rep
        parts = [str(x) for x in comp1] if not isinstance(comp1, str) else [comp1]
        name = parts[1].strip() if len(parts) > 1 else parts[0].strip()
        ref = LEAD_CODES.get(int(name)) if name.isdigit() else name
        if ref not in LEADS:
            raise HL7Error(
                103,
                f"channel {k} {name[:40]!r} is not an ECG lead we know",
                code="unknown_lead",
                segment="OBX",
                seq=seq,
                field_no=5,
                component=1,
            )
        leads.append(LEADS[ref])
        fs = _get(o, 5, 5, rep=k)
        if fs and w.fs is None:
            w.fs = _number(fs, ("OBX", seq, 5))
    w.leads = leads


def _wave_chunks(
    patient: str, bed: str, waves: list[_Wave], now: datetime | None
) -> tuple[list[dict[str, Any]], int]:
    """The waveforms as chunks carrying up to two leads, and how many channels were left out.

    Channels sampled together (one MA, or NA OBXs with the same start time, rate and length)
    share chunks: lead II first when present (the monitoring lead; beats are detected on
    ``lead``), then the next channel as ``lead2``; an ECG chunk carries at most two leads, so
    further channels are counted as skipped."""
    groups: dict[tuple[datetime, float, int], list[tuple[str, np.ndarray, _Wave]]] = {}
    for w in waves:
        if w.fs is None or not w.fs > 0:
            raise HL7Error(
                101,
                f"no {SAMPLE_RATE_REF} after the waveform",
                code="bad_fs",
                segment="OBX",
                seq=w.seq,
            )
        if len(w.leads) != len(w.channels):
            raise HL7Error(
                101,
                f"an MA of {len(w.channels)} channels needs a CD OBX after it naming {len(w.channels)} leads",
                code="missing_field",
                segment="OBX",
                seq=w.seq,
                field_no=5,
            )
        n = len(w.channels[0])
        if n == 0:
            raise HL7Error(
                101, "the waveform has no samples", code="empty_chunk", segment="OBX", seq=w.seq, field_no=5
            )
        if any(float(np.abs(ch).max()) > MAX_ABS_UV for ch in w.channels):
            raise HL7Error(
                207,
                f"a sample beyond +-{MAX_ABS_UV} uV",
                code="amplitude_impossible",
                segment="OBX",
                seq=w.seq,
                field_no=5,
            )
        group = groups.setdefault((w.ts, w.fs, n), [])
        for lead, ch in zip(w.leads, w.channels, strict=True):
            if all(lead != g[0] for g in group):
                group.append((lead, ch, w))
    out: list[dict[str, Any]] = []
    dropped = 0
    for (ts, fs, n), group in groups.items():
        group.sort(key=lambda g: g[0] != "II")  # stable: II first, the rest in message order
        (lead, uv, w), second = group[0], (group[1] if len(group) > 1 else None)
        dropped += max(0, len(group) - 2)
        per = max(1, int(round(fs * CHUNK_S)))
        for k in range(0, n, per):
            t0 = ts + timedelta(seconds=k / fs)
            seq = int(round(t0.timestamp() / (per / fs)))
            chunk = ecg_chunk_dict(
                patient,
                bed,
                t0,
                fs,
                seq,
                lead,
                np.rint(uv[k : k + per]),  # round half to even, as round() did
                lead2=second[0] if second else None,
                ecg2_uv=np.rint(second[1][k : k + per]) if second else None,
            )
            try:
                ecg_validate(orjson.dumps(chunk), key=patient, now=now)
            except InvalidRecord as e:
                raise HL7Error(207, e.reason, code=e.code, segment="OBX", seq=w.seq) from None
            out.append(chunk)
    return out, dropped


def _reading(
    patient: str,
    bed: str,
    ts: datetime,
    values: dict[str, Any],
    scale: int | None,
    now: datetime | None,
) -> dict[str, Any]:
    reading: dict[str, Any] = {"patient_id": patient, "bed": bed, "ts": ts.isoformat()}
    for name, sources in PRECEDENCE.items():
        v = next((values[k] for k in sources if k in values), None)
        if v is not None:
            values[name] = v
    for k in ("hr_bpm", "spo2_pct", "rr_bpm", "sbp_mmhg", "dbp_mmhg", "map_mmhg"):
        if k in values:
            reading[k] = round(values[k], 1)
    if "temp_c" in values:
        reading["temp_c"] = round(values["temp_c"], 2)
    for k in ("o2", "acvpu"):
        if k in values:
            reading[k] = values[k]
    if scale is not None:
        reading["spo2_scale"] = scale
    try:
        vitals_validate(json.dumps(reading).encode(), key=patient, now=now)
    except InvalidRecord as e:
        raise HL7Error(207, e.reason, code=e.code, segment="OBX") from None
    return reading


# --------------------------------------------------------------------------- ACK
def escape(text: str) -> str:
    """``text`` with the standard delimiters escaped, safe inside one field."""
    return text.translate(_ESC_TABLE)


def err_segment(e: HL7Error) -> str:
    """ERR (v2.5+): ERR-2 location, ERR-3 code^text^HL70357, ERR-4 severity E, ERR-8 user message."""
    return "|".join(
        [
            "ERR",
            "",
            e.location,
            f"{e.hl7_code}^{HL7_ERRORS.get(e.hl7_code, '')}^HL70357",
            "E",
            "",
            "",
            "",
            escape(e.message[:200]),
        ]
    )


def ack(
    text_or_msg: str | hl7.Message | None, error: HL7Error | None = None, now: datetime | None = None
) -> str:
    """The ACK for a message: AA, or AE/AR with an ERR segment. Always written with the standard
    encoding characters (whatever the sender's MSH-2 was), echoing MSH-10 in MSA-2 and swapping
    sender and receiver; a message without a readable MSH gets MSA-2 empty."""
    code = "AA" if error is None else error.ack
    msh: Any = None
    msg: Any = text_or_msg
    if isinstance(msg, str):
        try:
            msg = hl7.parse(msg) if msg.startswith("MSH") else None
        except Exception:  # noqa: BLE001 - any parse failure: answer without the sender's MSH
            msg = None
    if msg is not None:
        try:
            msh = msg[0] if str(msg[0][0]) == "MSH" else None
        except (IndexError, TypeError):
            msh = None

    got: dict[tuple[int, int], str] = {}

    def f(n: int, comp: int = 1) -> str:
        if (n, comp) not in got:
            try:
                got[n, comp] = escape(_get(msh, n, comp))[:60] if msh is not None else ""
            except (IndexError, TypeError):
                got[n, comp] = ""
        return got[n, comp]

    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    version = f(12) if f(12) in VERSIONS else "2.6"
    mtype = f"ACK^{f(9, 2)}^ACK" if f(9, 2) else "ACK"
    out = (
        f"MSH|^~\\&|WARDWATCH||{f(3)}|{f(4)}|{stamp}||{mtype}|{generate_message_control_id()}"
        f"|{f(11) or 'P'}|{version}\rMSA|{code}|{f(10)}"
    )
    if error is not None:
        out += "\r" + err_segment(error)
    return out + "\r"


def ack_code(text: str) -> str:
    """MSA-1 of an ACK text ('' when it has none)."""
    try:
        msa = _segments(hl7.parse(text), "MSA")
    except Exception:  # noqa: BLE001
        return ""
    return _get(msa[0], 1) if msa else ""
