"""The ward as the central station shows it: a snapshot built from Kafka records by one reducer.

:func:`ward_apply` takes one record of ``alerts``, ``influx.points`` or ``ecg`` and folds it into a
:class:`Ward` (in place; no I/O, no clock), returning the updates a browser needs to follow: a
bed's new numbers, the new sorted list of active alarms, or a decimated piece of ECG. The
station's background task calls it for every record and pushes the updates; a newly connected
browser first gets :func:`ward_view`, the whole snapshot.

Alarms are ordered as IEC 60601-1-8 asks a central station to present them: highest priority
first (high, medium, low), unacknowledged before acknowledged, newest first within those.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wardwatch.records.points import unpack_points

#: The vitals fields the bed tiles show (units in the names, as in the ``vitals`` points).
VITAL_FIELDS = ("hr_bpm", "spo2_pct", "rr_bpm", "sbp_mmhg", "dbp_mmhg", "temp_c")
PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}
#: Alert event types after which the alarm is still shown (``resolved`` removes it).
OPEN_TYPES = ("raised", "escalated", "latched", "acknowledged", "silenced")
#: Sampling rate of the ECG sent to browsers: a 60 Hz-ish canvas sweep needs no more, and a
#: peak-keeping decimation (:func:`ecg_decimate`) keeps every R wave's height.
ECG_DISPLAY_HZ = 120.0
#: Seconds of (decimated) ECG kept per bed, so a newly opened page has a trace at once.
ECG_KEEP_S = 8.0
#: Resolved alarm ids remembered, so a late re-delivered ``raised`` cannot bring one back.
RESOLVED_MEMORY = 2000


@dataclass
class Bed:
    patient_id: str
    bed: str
    vitals: dict[str, float] = field(default_factory=dict)
    vitals_ts: int | None = None  # ns, device time of the newest vitals point
    news2: dict[str, Any] | None = None  # score, band, risk
    risk: dict[str, Any] | None = None  # probability, threshold, alert
    ecg_hr_bpm: float | None = None
    ecg_fs: float | None = None  # display rate of the kept ECG
    ecg_lead: str = ""
    ecg: deque[int] = field(default_factory=deque)
    ecg_end_s: float | None = None  # device time just after the newest kept sample
    seen_ns: int = 0  # device time of the newest record of any kind (for :func:`ward_evict`)

    def view(self) -> dict[str, Any]:
        """The bed as JSON for the browser (without its ECG buffer)."""
        return {
            "patient_id": self.patient_id,
            "bed": self.bed,
            "vitals": dict(self.vitals),
            "vitals_ts": self.vitals_ts,
            "news2": self.news2,
            "risk": self.risk,
            "ecg_hr_bpm": self.ecg_hr_bpm,
            "has_ecg": self.ecg_fs is not None,
        }


@dataclass
class Ward:
    beds: dict[str, Bed] = field(default_factory=dict)  # patient id -> bed
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)  # alert id -> alarm view
    strips: dict[str, str] = field(default_factory=dict)  # alert id -> strip PNG path (server only)
    resolved: deque[str] = field(default_factory=lambda: deque(maxlen=RESOLVED_MEMORY))
    seen_events: deque[str] = field(default_factory=lambda: deque(maxlen=RESOLVED_MEMORY))

    def bed_of(self, patient_id: str, bed: str) -> Bed:
        b = self.beds.get(patient_id)
        if b is None:
            b = self.beds[patient_id] = Bed(patient_id, bed or "?")
        elif bed:
            b.bed = bed
        return b


# ------------------------------------------------------------------------------ reducer
def ward_apply(ward: Ward, topic: str, value: Any) -> list[dict[str, Any]]:
    """Fold one record into ``ward``; return the updates for browsers (``[]`` if none).

    ``topic`` is ``"alerts"``, ``"influx.points"`` or ``"ecg"`` (names from
    :mod:`wardwatch.topics`); anything that is not a well-formed record of its topic is ignored
    (the stream worker dead-letters bad input; the station only shows).

    Update shapes: ``{"type": "bed", "bed": {...}}``, ``{"type": "alarms", "alarms": [...]}``,
    ``{"type": "ecg", "patient_id", "bed", "fs", "lead", "t0", "samples"}``.

    Examples
    --------
    >>> w = Ward()
    >>> ward_apply(w, "influx.points", {"measurement": "vitals", "tags": {"patient": "P1",
    ...     "bed": "B1"}, "fields": {"hr_bpm": 88.0}, "time_ns": 1})[0]["bed"]["vitals"]
    {'hr_bpm': 88.0}
    >>> ward_apply(w, "influx.points", {"points": [{"measurement": "vitals", "tags": {"patient":
    ...     "P1", "bed": "B1"}, "fields": {"spo2_pct": 95.0}, "time_ns": 2}]})[0]["bed"]["vitals"]
    {'hr_bpm': 88.0, 'spo2_pct': 95.0}
    """
    if not isinstance(value, dict):
        return []
    try:
        if topic == "alerts":
            return _apply_alert(ward, value)
        if topic == "influx.points":  # one point, or a batch's {"points": [...]}
            return [u for p in unpack_points(value) if isinstance(p, dict) for u in _apply_point(ward, p)]
        if topic == "ecg":
            return _apply_ecg(ward, value)
    except (KeyError, TypeError, ValueError):
        return []
    return []


def _apply_point(ward: Ward, p: dict[str, Any]) -> list[dict[str, Any]]:
    tags, fields, m = p.get("tags") or {}, p.get("fields") or {}, p.get("measurement")
    pid = tags.get("patient")
    if not pid or not isinstance(fields, dict):
        return []
    if m == "vitals":
        bed = ward.bed_of(pid, tags.get("bed", ""))
        t = int(p.get("time_ns") or 0)
        if bed.vitals_ts is not None and t < bed.vitals_ts:
            return []  # an older reading re-delivered: the tile keeps the newest
        bed.vitals_ts = t
        bed.vitals.update({k: float(fields[k]) for k in VITAL_FIELDS if _number(fields.get(k))})
    elif m == "news2":
        bed = ward.bed_of(pid, tags.get("bed", ""))
        bed.news2 = {k: fields.get(k) for k in ("score", "band", "risk")}
    elif m == "risk":
        bed = ward.bed_of(pid, tags.get("bed", ""))
        bed.risk = {k: fields.get(k) for k in ("probability", "threshold", "alert")}
    elif m == "ecg_hr":
        bed = ward.bed_of(pid, tags.get("bed", ""))
        if not _number(fields.get("hr_bpm")):
            return []
        bed.ecg_hr_bpm = float(fields["hr_bpm"])
    else:
        return []
    bed.seen_ns = max(bed.seen_ns, int(p.get("time_ns") or 0))
    return [{"type": "bed", "bed": bed.view()}]


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _apply_alert(ward: Ward, ev: dict[str, Any]) -> list[dict[str, Any]]:
    kind, aid, pid = ev["type"], ev["alert_id"], ev["patient_id"]
    if not isinstance(aid, str) or not isinstance(pid, str) or ev.get("priority") not in PRIORITY_RANK:
        return []
    if ev.get("event_id") in ward.seen_events:
        return []  # the same event delivered twice
    ward.seen_events.append(ev.get("event_id", ""))
    ward.bed_of(pid, ev.get("bed", ""))
    if kind == "resolved":
        ward.resolved.append(aid)
        ward.strips.pop(aid, None)
        if ward.alarms.pop(aid, None) is None:
            return []
        return [alarms_update(ward)]
    if kind not in OPEN_TYPES or aid in ward.resolved:
        return []
    cur = ward.alarms.get(aid) or {"acknowledged": False, "by": "", "by_name": "", "silenced_until": None}
    cur.update(
        {
            "alert_id": aid,
            "patient_id": pid,
            "bed": ev.get("bed", ""),
            "source": ev.get("source", ""),
            "category": ev.get("category", "physiological"),
            "priority": ev["priority"],
            "latched": bool(ev.get("latched", False)),
            "onset_ts": ev.get("onset_ts", ev.get("ts", "")),
            "ts": ev.get("ts", ""),
        }
    )
    if ev.get("message"):
        cur["message"] = ev["message"]
    cur.setdefault("message", "")
    if kind in ("raised", "escalated"):
        cur["acknowledged"] = False  # a new or higher-priority alarm needs a new acknowledgement
        cur["active"] = True
        cur["evidence"] = _evidence_summary(ev.get("evidence") or {})
    elif kind == "latched":
        cur["active"] = False
    elif kind == "acknowledged":
        cur.update(acknowledged=True, by=ev.get("by", ""), by_name=ev.get("by_name", ""))
    elif kind == "silenced":
        cur.update(
            silenced_until=ev.get("silenced_until"), by=ev.get("by", ""), by_name=ev.get("by_name", "")
        )
    cur.setdefault("active", True)
    cur.setdefault("evidence", {})
    strip = (ev.get("evidence") or {}).get("strip_png")
    if isinstance(strip, str) and strip:
        ward.strips[aid] = strip
    cur["has_strip"] = aid in ward.strips
    ward.alarms[aid] = cur
    return [alarms_update(ward)]


def _evidence_summary(evidence: dict[str, Any]) -> dict[str, Any]:
    """The numbers of an alarm's evidence worth a glance (never file paths or whole readings)."""
    out: dict[str, Any] = {k: v for k, v in evidence.items() if _number(v)}
    news2 = evidence.get("news2")
    if isinstance(news2, dict) and _number(news2.get("score")):
        out["news2"] = news2["score"]
    return dict(list(out.items())[:8])


def alarms_sorted(alarms: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Active alarms: priority (high first), unacknowledged first, newest onset first."""
    newest_first = sorted(alarms.values(), key=lambda a: a.get("onset_ts", ""), reverse=True)
    return sorted(newest_first, key=lambda a: (PRIORITY_RANK.get(a["priority"], 3), a["acknowledged"]))


def alarms_update(ward: Ward) -> dict[str, Any]:
    return {"type": "alarms", "alarms": alarms_sorted(ward.alarms)}


def _apply_ecg(ward: Ward, chunk: dict[str, Any]) -> list[dict[str, Any]]:
    pid, samples, fs = chunk["patient_id"], chunk["ecg_uv"], float(chunk["fs_hz"])
    if not isinstance(samples, list) or not samples or not 100.0 <= fs <= 1000.0:
        return []
    t0 = datetime.fromisoformat(chunk["ts"]).timestamp()
    bed = ward.bed_of(pid, chunk.get("bed", ""))
    if bed.ecg_end_s is not None and t0 < bed.ecg_end_s - 0.5:
        return []  # older than what the trace already shows (a re-delivery)
    dec, dfs = ecg_decimate(samples, fs, ECG_DISPLAY_HZ)
    first = bed.ecg_fs is None
    if bed.ecg_fs != dfs:
        bed.ecg = deque(maxlen=round(ECG_KEEP_S * dfs))
        bed.ecg_fs = dfs
    bed.ecg.extend(dec)
    bed.ecg_lead = str(chunk.get("lead", ""))
    bed.ecg_end_s = t0 + len(samples) / fs
    bed.seen_ns = max(bed.seen_ns, int(bed.ecg_end_s * 1e9))
    out: list[dict[str, Any]] = [
        {
            "type": "ecg",
            "patient_id": pid,
            "bed": bed.bed,
            "fs": dfs,
            "lead": bed.ecg_lead,
            "t0": t0,
            "samples": dec,
        }
    ]
    if first:
        out.insert(0, {"type": "bed", "bed": bed.view()})
    return out


def ecg_decimate(samples: list[int], fs: float, target_hz: float) -> tuple[list[int], float]:
    """ECG at about ``target_hz`` for display, and that rate: from each block the sample farthest
    from the piece's median (its baseline), so R waves and deep S waves keep their height, as a
    monitor's peak-preserving display decimation does.

    >>> ecg_decimate([0, 0, 900, 0, 0, -50], 360.0, 120.0)
    ([900, -50], 120.0)
    """
    k = max(1, int(fs // target_hz))
    base = sorted(samples)[len(samples) // 2] if samples else 0
    out: list[int] = []
    for i in range(0, len(samples) - k + 1, k):
        out.append(int(max(samples[i : i + k], key=lambda x: abs(x - base))))
    return out, fs / k


def ward_evict(ward: Ward, now_s: float, idle_s: float) -> list[dict[str, Any]]:
    """Forget the beds with no record for ``idle_s`` (device time, against ``now_s``) and no
    alarm shown: a discharged or moved patient's tile does not stay on the station for ever, nor
    in its memory. Returns a ``{"type": "bed_removed", "patient_id"}`` update for each.

    >>> w = Ward()
    >>> _ = ward_apply(w, "influx.points", {"measurement": "vitals", "tags": {"patient": "P1",
    ...     "bed": "B1"}, "fields": {"hr_bpm": 88.0}, "time_ns": 1_000 * 10**9})
    >>> ward_evict(w, 1_000 + 59, idle_s=60), ward_evict(w, 1_000 + 61, idle_s=60)
    ([], [{'type': 'bed_removed', 'patient_id': 'P1'}])
    """
    alarmed = {a.get("patient_id") for a in ward.alarms.values()}
    idle = [pid for pid, b in ward.beds.items() if b.seen_ns / 1e9 < now_s - idle_s and pid not in alarmed]
    for pid in idle:
        del ward.beds[pid]
    return [{"type": "bed_removed", "patient_id": pid} for pid in idle]


def ward_view(ward: Ward) -> dict[str, Any]:
    """The whole snapshot: beds (ordered by bed label), sorted alarms, and each ECG bed's kept
    trace."""
    beds = sorted(ward.beds.values(), key=lambda b: (b.bed, b.patient_id))
    return {
        "beds": [b.view() for b in beds],
        "alarms": alarms_sorted(ward.alarms),
        "ecg": {
            b.patient_id: {"fs": b.ecg_fs, "lead": b.ecg_lead, "samples": list(b.ecg)}
            for b in beds
            if b.ecg_fs is not None
        },
    }


def coalesce(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop superseded updates of one batch: only the last ``bed`` update of each patient and the
    last ``alarms`` list matter; every ``ecg`` piece and ``bed_removed`` is kept, in order."""
    last: dict[tuple[str, str], int] = {}
    for i, u in enumerate(updates):
        if u["type"] == "bed":
            last[("bed", u["bed"]["patient_id"])] = i
        elif u["type"] == "alarms":
            last[("alarms", "")] = i
    keep = set(last.values())
    return [u for i, u in enumerate(updates) if u["type"] in ("ecg", "bed_removed") or i in keep]


__all__ = [
    "ECG_DISPLAY_HZ",
    "Bed",
    "Ward",
    "alarms_sorted",
    "coalesce",
    "ecg_decimate",
    "ward_apply",
    "ward_evict",
    "ward_view",
]
