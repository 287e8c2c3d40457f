"""IHE PCD-04 (Alert Communication Management, "Report Alert"): an alert event as ORU^R40, and
the MLLP transport that ``wardwatch alerts hl7`` plugs into the subscribers' delivery loop.

The message (the shape of the PCD-04 examples in the IHE PCD Technical Framework, vol. 2)::

    MSH|^~\\&|WARDWATCH^...||||<now>||ORU^R40^ORU_R40|<event_id>|P|2.6|||AL|NE||||||IHE_PCD_ACM_001^...
    PID|||<patient id>^^^WARDWATCH^MR
    PV1||I|<bed>
    OBR|1|<alert_id>^WARDWATCH||^MDC_EVT_ALARM^MDC|||<onset>
    OBX|1|ST|^<alert identifier>^WARDWATCH|1.0.0.0.1|<message>|||<PH/PM/PL>|||F|||<event time>
    OBX|2|ST|^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.2|start|...     (start, escalate, end, ...)
    OBX|3|ST|^MDC_ATTR_ALARM_STATE^MDC|1.0.0.0.3|active|...    (active, latched, inactive)
    OBX|4|ST|^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.0.0.0.4|enabled|...  (acknowledged, audio-paused)
    OBX|5|ST|^MDC_ATTR_ALARM_PRIORITY^MDC|1.0.0.0.5|PH|...
    OBX|6|TX|^MDC_ATTR_ALARM_EVIDENCE^WARDWATCH|1.0.0.0.6|<evidence as key=value text>|...

The alert identifier is our ``source`` (``news2``, ``ecg.vt``, ...) in a local coding system: our
alerts are computed, not device alarm codes, so no MDC alarm code is claimed. The attribute codes
are given by reference id only: we could not confirm their numeric MDC codes, so we write none.
Priority follows the PCD-04 abnormal-flag convention (PH / PM / PL for high / medium / low).

ACK semantics (the :class:`R40Transport`): ``AA``/``CA`` delivered; ``AE``/``AR``/``CE``/``CR``
refused (dead-lettered with the ACK text); no ACK (connection refused, timeout) or an unreadable
one: retried with backoff for as long as it takes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wardwatch.hl7.mllp import send_once
from wardwatch.hl7.pcd01 import escape

PRIORITY = {"high": "PH", "medium": "PM", "low": "PL"}
#: event type -> (event phase, alarm state, inactivation state)
STATES: dict[str, tuple[str, str, str]] = {
    "raised": ("start", "active", "enabled"),
    "escalated": ("escalate", "active", "enabled"),
    "latched": ("end", "latched", "enabled"),
    "acknowledged": ("update", "active", "acknowledged"),
    "silenced": ("update", "active", "audio-paused"),
    "resolved": ("end", "inactive", "enabled"),
}


def _dtm(value: str | None) -> str:
    """An ISO-8601 time as an HL7 DTM with offset ('' when absent or unreadable)."""
    try:
        ts = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if ts.tzinfo is None:
        return ""
    off = ts.utcoffset()
    minutes = int(off.total_seconds() // 60) if off else 0
    sign = "-" if minutes < 0 else "+"
    return ts.strftime("%Y%m%d%H%M%S") + f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def evidence_text(evidence: Any) -> str:
    """The evidence dict as ``key=value; ...`` text (nested values as compact JSON)."""
    if not isinstance(evidence, Mapping):
        return str(evidence or "")
    parts = []
    for k, v in evidence.items():
        shown = v if isinstance(v, (str, int, float)) else json.dumps(v, separators=(",", ":"), default=str)
        parts.append(f"{k}={shown}")
    return "; ".join(parts)


def build_oru_r40(event: Mapping[str, Any], now: datetime | None = None) -> str:
    """ORU^R40 for one alert event (the ``alerts`` topic's JSON). ``ValueError`` when the event
    lacks what the message needs (patient, bed, alert id, a known type)."""
    missing = [k for k in ("patient_id", "bed", "alert_id", "type", "event_id") if not event.get(k)]
    if missing:
        raise ValueError(f"alert event without {missing}")
    kind = str(event["type"])
    if kind not in STATES:
        raise ValueError(f"unknown alert event type {kind[:30]!r}")
    phase, state, inactivation = STATES[kind]
    priority = PRIORITY.get(str(event.get("priority")), "PL")
    stamp = _dtm((now or datetime.now(UTC)).isoformat())
    at = _dtm(event.get("ts")) or stamp
    onset = _dtm(event.get("onset_ts")) or at
    e = {k: escape(str(event.get(k) or "")) for k in ("patient_id", "bed", "alert_id", "event_id", "source")}
    text = escape(str(event.get("message") or kind))[:500]
    by = f" by {escape(str(event['by_name'] or event['by']))}" if event.get("by") else ""

    def obx(n: int, vtype: str, code: str, value: str, flags: str = "") -> str:
        return f"OBX|{n}|{vtype}|{code}|1.0.0.0.{n}|{value}|||{flags}|||F|||{at}"

    lines = [
        f"MSH|^~\\&|WARDWATCH^ACM||||{stamp}||ORU^R40^ORU_R40|{e['event_id'][:199]}|P|2.6|||AL|NE"
        "||||||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO",
        f"PID|||{e['patient_id']}^^^WARDWATCH^MR",
        f"PV1||I|{e['bed']}",
        f"OBR|1|{e['alert_id']}^WARDWATCH||^MDC_EVT_ALARM^MDC|||{onset}",
        obx(1, "ST", f"^{e['source'] or 'alert'}^WARDWATCH", text + by, priority),
        obx(2, "ST", "^MDC_ATTR_EVENT_PHASE^MDC", phase),
        obx(3, "ST", "^MDC_ATTR_ALARM_STATE^MDC", state),
        obx(4, "ST", "^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC", inactivation),
        obx(5, "ST", "^MDC_ATTR_ALARM_PRIORITY^MDC", priority),
        obx(
            6, "TX", "^MDC_ATTR_ALARM_EVIDENCE^WARDWATCH", escape(evidence_text(event.get("evidence")))[:2000]
        ),
    ]
    return "\r".join(lines) + "\r"


@dataclass(frozen=True)
class R40Outcome:
    """One attempt's outcome (the attributes the subscribers' delivery loop reads)."""

    verdict: str
    status: str | None = None
    error: str | None = None
    retry_after_s: float | None = None
    detail: str = ""
    answer: str = ""


class R40Transport:
    """Sends each alert event as ORU^R40 on a new MLLP connection and waits for its ACK."""

    name = "hl7"

    def __init__(self, host: str, port: int, timeout_s: float = 10.0) -> None:
        self.host_name, self.port, self.timeout_s = host, port, timeout_s
        self.host = f"{host}:{port}"

    def attempt(self, event_id: str, body: bytes, event: Mapping[str, Any], n: int) -> R40Outcome:
        try:
            text = build_oru_r40(event)
        except ValueError as e:  # an event we cannot express: refused, dead-lettered with why
            return R40Outcome("refused", "unbuildable", None, None, str(e)[:200], "nothing (not sendable)")
        code, detail = send_once(self.host_name, self.port, text, self.timeout_s)
        if code in ("AA", "CA"):
            return R40Outcome("delivered", code, None, None, "", f"ACK {code}")
        if code in ("AE", "AR", "CE", "CR"):
            return R40Outcome("refused", code, None, None, detail, f"ACK {code}")
        return R40Outcome("retry", code, "no_ack" if code is None else "bad_ack", None, detail, "no ACK")
