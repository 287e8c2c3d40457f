"""Operator actions on alarms (topic ``alerts.ack``): the one message every front end sends.

The contract, fixed for every front end (CLI, web station)::

    key = patient_id
    {"patient_id", "alert_id", "action": "acknowledge" | "silence",
     "duration_s"?  (silence only; (0, 600] s, default 120),
     "token"        (wardwatch.identity.issue_token: who acts, verified by the consumer),
     "reason"?      (free text, at most 500 characters)}

Who acts comes only from the verified token, never from the message: a ``by`` field is ignored
like any other field this contract does not name. Validation here is about the message's shape;
the token is checked by the alert consumer (``wardwatch.identity.authorize``), so a message
without one is valid here and dead-lettered there as ``unauthenticated``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import decode_object, patient_id_of

ACTIONS = ("acknowledge", "silence")
#: IEC 60601-1-8 lets an operator pause an alarm's audio for a bounded time; ours is 10 min at most.
SILENCE_MAX_S = 600.0
SILENCE_DEFAULT_S = 120.0
REASON_MAX = 500
#: the contract's fields; any other field is ignored
FIELDS = frozenset({"patient_id", "alert_id", "action", "duration_s", "token", "reason"})


@dataclass(frozen=True)
class AlertAction:
    """A validated operator action (the token not yet verified)."""

    patient_id: str
    alert_id: str
    action: str  # one of ACTIONS
    token: Any  # verified by the consumer; anything but a valid token is unauthenticated
    duration_s: float | None = None  # silence only
    reason: str = ""


def action_validate(raw: bytes | str, *, key: str | None = None) -> AlertAction:
    """Decode and validate one ``alerts.ack`` message; raises InvalidRecord with its code.

    Examples
    --------
    >>> a = action_validate(b'{"patient_id": "P1", "alert_id": "al-1", "action": "silence", '
    ...                     b'"duration_s": 60, "token": "v1.x.y"}', key="P1")
    >>> a.action, a.duration_s
    ('silence', 60.0)
    >>> action_validate(b'{"patient_id": "P1", "alert_id": "al-1", "action": "silence", "duration_s": 900}')
    Traceback (most recent call last):
    ...
    wardwatch.records.errors.InvalidRecord: out_of_range: duration_s=900 outside (0, 600] seconds
    """
    obj = decode_object(raw)
    missing = sorted({"patient_id", "alert_id", "action"} - set(obj))
    if missing:
        raise InvalidRecord("missing_field", f"missing fields {missing}", missing[0])
    pid = patient_id_of(obj, key)
    alert_id = obj["alert_id"]
    if not isinstance(alert_id, str) or not alert_id or len(alert_id) > 64:
        raise InvalidRecord(
            "malformed", "alert_id must be a non-empty string of at most 64 characters", "alert_id"
        )
    kind = obj["action"]
    if kind not in ACTIONS:
        raise InvalidRecord("bad_value", f"action must be one of {ACTIONS}, got {str(kind)[:16]!r}", "action")
    duration: float | None = None
    if kind == "silence":
        duration = _duration(obj.get("duration_s", SILENCE_DEFAULT_S))
    elif "duration_s" in obj:
        raise InvalidRecord(
            "malformed", "duration_s belongs to a silence, not an acknowledgement", "duration_s"
        )
    reason = obj.get("reason", "")
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise InvalidRecord("malformed", f"reason must be text of at most {REASON_MAX} characters", "reason")
    return AlertAction(pid, alert_id, kind, obj.get("token"), duration, reason.strip())


def _duration(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InvalidRecord("malformed", f"duration_s must be a number, got {str(v)[:16]!r}", "duration_s")
    if not 0 < v <= SILENCE_MAX_S:
        raise InvalidRecord(
            "out_of_range", f"duration_s={v:g} outside (0, {SILENCE_MAX_S:g}] seconds", "duration_s"
        )
    return float(v)
