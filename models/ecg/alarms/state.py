"""The alarm rules' per-patient state, their output (:class:`AlarmChange`) and the helpers every
rule shares: the emitter that raises and clears conditions, sustain timers, beat evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from models.ecg.measures import BeatEntry
from wardwatch.records.conditions import REASSERT_S

# 1.3 (2026-12-05, #23): AF from N-N intervals, flutter test, onset/offset; VT chained under VF
RULES_VERSION = "ecg-rules-1.3"

TECHNICAL = ("ecg.leads_off", "ecg.noise", "ecg.feed_stopped")
LATCHED = frozenset({"ecg.asystole", "ecg.vtach", "ecg.vfib"})

Evidence = dict[str, Any]  #: JSON-serialisable evidence of an alarm change


class ActiveAlarm(TypedDict):
    """An alarm condition that is on: since when (device time) and at which priority."""

    since: float
    priority: str
    sent: NotRequired[float]  # device time of its last change or re-assertion sent
    message: NotRequired[str]  # its last change's message (a re-assertion's)


class RuleState(TypedDict):
    """Per-patient rule state (JSON-serialisable, kept in the patient's stream state)."""

    v: int
    beats: list[BeatEntry]  # [[t, label, seg], ...] oldest first, bounded
    seg: int  # continuous-segment counter (bumped on gaps / suspension)
    from_t: float | None  # analysis (re)started at this device time
    last_beat_t: float | None
    run: list[list[Any]]  # current run of consecutive V beats: [[t, label], ...]
    active: dict[str, ActiveAlarm]  # source -> {"since": t, "priority": p}
    since: dict[str, float]  # sustain timer -> t the condition has held since
    clean_since: float | None  # noise clearing timer
    gap_ref: NotRequired[float]  # last QRS before the current pause (pause / asystole)
    suspended: NotRequired[bool]  # rhythm analysis suspended (flat / unanalysable signal)


def rules_init() -> RuleState:
    """Fresh per-patient rule state (JSON-serialisable)."""
    return {
        "v": 1,
        "beats": [],
        "seg": 0,
        "from_t": None,
        "last_beat_t": None,
        "run": [],
        "active": {},
        "since": {},
        "clean_since": None,
    }


@dataclass(frozen=True)
class AlarmChange:
    """One alarm condition starting (``active``), changing priority, or ending.

    ``t`` is the device time (POSIX seconds) of the evidence that changed it.
    """

    source: str
    active: bool
    priority: str
    t: float
    message: str = ""
    evidence: Evidence = field(default_factory=dict)
    #: the active condition sent again unchanged (:func:`alarm_reassertions`), not a change
    reassert: bool = False

    @property
    def category(self) -> str:
        return "technical" if self.source in TECHNICAL else "physiological"

    @property
    def latched(self) -> bool:
        return self.source in LATCHED


def iso(t: float) -> str:
    """Device time (POSIX s) as an ISO 8601 UTC string with milliseconds."""
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def beats_evidence(
    beats: Sequence[BeatEntry], t_from: float, t_to: float, limit: int = 24
) -> list[dict[str, str]]:
    """The last ``limit`` beats from ``t_from`` to ``t_to`` as alarm evidence (time, class)."""
    sel = [b for b in beats if t_from <= b[0] <= t_to][-limit:]
    return [{"t": iso(b[0]), "label": b[1]} for b in sel]


class Emitter:
    """Tracks active conditions in ``state['active']`` and records changes."""

    def __init__(self, state: RuleState) -> None:
        self.state = state
        self.out: list[AlarmChange] = []

    def is_active(self, source: str) -> bool:
        return source in self.state["active"]

    def priority(self, source: str) -> str | None:
        """The priority of an active condition (None when it is off)."""
        cur = self.state["active"].get(source)
        return None if cur is None else cur["priority"]

    def raise_(self, source: str, priority: str, t: float, message: str, evidence: Evidence) -> None:
        cur = self.state["active"].get(source)
        if cur is not None and cur["priority"] == priority:
            return
        since = cur["since"] if cur else t
        self.state["active"][source] = {"since": since, "priority": priority, "sent": t, "message": message}
        self.out.append(AlarmChange(source, True, priority, t, message, evidence))

    def clear(self, source: str, t: float, message: str, evidence: Evidence | None = None) -> None:
        cur = self.state["active"].pop(source, None)
        if cur is None:
            return
        ev: Evidence = {"active_since": iso(cur["since"]), "duration_s": round(t - cur["since"], 2)}
        ev.update(evidence or {})
        self.out.append(AlarmChange(source, False, cur["priority"], t, message, ev))


def alarm_reassertions(state: RuleState, t: float, every_s: float = REASSERT_S) -> list[AlarmChange]:
    """Every alarm still on whose last change or re-assertion was ``every_s`` or more of device
    time before ``t``, sent again unchanged (``reassert=True``; its ``sent`` time moves to
    ``t``): the alert component heals a raise or rise it never received, and ignores the rest
    (:data:`wardwatch.records.conditions.REASSERT_S`). Not an alarm change: no point, no strip,
    not scored by the alarm evaluation.

    >>> st = rules_init()
    >>> st["active"]["ecg.tachy"] = {"since": 100.0, "priority": "medium"}
    >>> [(c.source, c.priority, c.reassert) for c in alarm_reassertions(st, 130.0)]
    []
    >>> [(c.source, c.priority, c.reassert) for c in alarm_reassertions(st, 160.0)]
    [('ecg.tachy', 'medium', True)]
    >>> alarm_reassertions(st, 200.0), st["active"]["ecg.tachy"]["sent"]
    ([], 160.0)
    """
    out = []
    for source, a in state["active"].items():
        if t - a.get("sent", a["since"]) >= every_s:
            a["sent"] = t
            since = {"active_since": iso(a["since"])}
            message = a.get("message") or f"{source} still active"
            out.append(AlarmChange(source, True, a["priority"], t, message, since, reassert=True))
    return out


def held(state: RuleState, key: str, cond: bool, t: float) -> float:
    """Sustain timer: seconds ``cond`` has held continuously up to ``t`` (0 when false)."""
    since = state["since"]
    if not cond:
        since.pop(key, None)
        return 0.0
    since.setdefault(key, t)
    return t - since[key]


__all__ = [
    "LATCHED",
    "RULES_VERSION",
    "TECHNICAL",
    "ActiveAlarm",
    "AlarmChange",
    "Emitter",
    "Evidence",
    "RuleState",
    "alarm_reassertions",
    "beats_evidence",
    "held",
    "iso",
    "rules_init",
]
