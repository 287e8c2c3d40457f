"""The per-patient ECG stream state (one JSON value in the ``ecg-state`` table) and its types.

::

    {"v", "bed", "lead", "fs",
     "last": {"seq", "end_t", "fs_hz"},        # last accepted chunk (sequence check)
     "rx_wall", "partition",                   # receive wall time (feed-stopped timer)
     "seg_t0",                                 # device time of sample 0 of the detector stream
     "beat_stream": ECGBeatStream.to_state(),  # QRS detector + beat feature state
     "votes": {family id: [mean p(V), n]},     # morphology family votes (models.ecg.morphology)
     "rules": rules_init(),                    # alarm rule state (recent beats, active alarms)
     "buf": {"t0", "fs", "uv"},                # rolling 10 s of signal (strips, signal measures)
     "buf2": {"t0", "fs", "uv", "lead"} | None, # the same of the second lead, when chunks carry one
     "bins": {"t0", "counts", "susp"},         # beat class counts of the open 10 s interval
     "qrs": {"last_t", "analysed_t"}}
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from models.ecg.alarms.state import RuleState, rules_init
from models.ecg.morphology import FamilyVotes
from models.ecg.signal_buffer import SignalBuffer

STATE_VERSION = 1


class LastChunk(TypedDict):
    """The last accepted chunk, for the sequence check."""

    seq: int
    end_t: float
    fs_hz: float


class QRSHorizon(TypedDict):
    """The last QRS the detector confirmed and the device time detection is complete up to."""

    last_t: float | None
    analysed_t: float | None


class LeadBuffer(SignalBuffer):
    """The second lead's rolling buffer, with the lead's name."""

    lead: str | None


class BeatBins(TypedDict):
    """Beat class counts of the open :data:`models.ecg.step.BIN_S` interval."""

    t0: float
    counts: dict[str, int]
    susp: bool


class ECGState(TypedDict):
    """One patient's ECG stream state (JSON-serialisable)."""

    v: int
    last: LastChunk | None
    rules: RuleState
    buf: SignalBuffer | None
    bins: BeatBins | None
    beat_stream: dict[str, Any] | None  # ECGBeatStream.to_state()
    votes: FamilyVotes
    seg_t0: float | None
    qrs: QRSHorizon
    bed: NotRequired[str]
    lead: NotRequired[str]
    fs: NotRequired[float]
    rx_wall: NotRequired[float]
    partition: NotRequired[int]
    offset: NotRequired[int]  # input offset of the last chunk taken in (re-delivery check)
    buf2: NotRequired[LeadBuffer | None]


def ecg_state_new() -> ECGState:
    """An empty per-patient state (the stream starts with its first chunk)."""
    return {
        "v": STATE_VERSION,
        "last": None,
        "rules": rules_init(),
        "buf": None,
        "bins": None,
        "beat_stream": None,
        "votes": {},
        "seg_t0": None,
        "qrs": {"last_t": None, "analysed_t": None},
    }


#: The parts of a state the step (and the feed-stopped check) update in place; the step replaces
#: the others whole (a new value, the old one untouched). ``tests/unit/ecg/test_step.py`` holds
#: the step to this.
UPDATED_IN_PLACE = ("rules", "bins", "votes")

_LEAVES = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """``value`` with new dicts and lists, its strings and numbers shared (they cannot change)."""
    t = type(value)
    if t is dict:
        return {k: v if type(v) in _LEAVES else _copied(v) for k, v in value.items()}
    if t is list:
        return [v if type(v) in _LEAVES else _copied(v) for v in value]
    return value


def ecg_state_copy(state: ECGState) -> ECGState:
    """A copy of ``state`` that the step may update, leaving ``state`` as it was: the parts the
    step updates in place (:data:`UPDATED_IN_PLACE`) copied, the rest shared (the encoded
    rolling buffers stay the very same text, which the worker's decoded-signal cache checks).

    For an update that may not go out: the ECG agent's feed-stopped timer checks a copy and
    writes it only once its alarm is published. (The agent's batches no longer copy: they update
    the table's states and put them back if the batch fails, ``PatientStateTable.restore``.)

    >>> st = ecg_state_new()
    >>> c = ecg_state_copy(st)
    >>> c["votes"]["3"] = [0.9, 1]; c["seg_t0"] = 5.0
    >>> st["votes"], st["seg_t0"], c["qrs"] is st["qrs"]
    ({}, None, True)
    """
    out = dict(state)
    for key in UPDATED_IN_PLACE:
        if key in out:
            out[key] = _copied(out[key])
    return out  # type: ignore[return-value]


__all__ = [
    "STATE_VERSION",
    "UPDATED_IN_PLACE",
    "BeatBins",
    "ECGState",
    "FamilyVotes",
    "LastChunk",
    "LeadBuffer",
    "QRSHorizon",
    "ecg_state_copy",
    "ecg_state_new",
]
