"""The ECG agent: chunks in -> validate -> :func:`models.ecg.step.ecg_step` (admit, detect,
classify batched across patients, rules) -> alarm conditions, InfluxDB points, ECG strips.

Thin by design: validation is :mod:`wardwatch.records.ecg`, the step is :mod:`models.ecg.step` (the
one implementation the benches and tests also run), strips are rendered by
:mod:`streams.ecg.strip`. This module moves data between the ``ecg`` topic, the changelog table
``ecg-state`` and those functions.

Batching: :func:`streams.delivery.run_batches` collects up to :data:`BATCH_MAX` chunks (many patients) or
:data:`BATCH_WITHIN_S` seconds, then every beat candidate of the batch goes through one
``BeatClassifier.predict`` call. The step runs in a worker thread (``asyncio.to_thread``), so
that the other agents are served while it computes.

Changelog partition: ``ecg-state`` is a :class:`streams.tables.PatientStateTable` (each
patient's state goes to the partition its ``ecg`` records come from).

Checkpoint: a batch's states are kept in memory and each is written every :data:`CHECKPOINT_S`
(a ~40 KB state per patient and second was a fifth of this agent's time and most of the broker's
bytes); a record stays unacknowledged until its state is written
(:class:`streams.delivery.HeldAcks`), so a commit never passes a state the next owner of the
partition would not recover. The states are written in :data:`SLICES` slices of patients, one
slice every :data:`CHECKPOINT_SLICE_S`: all at once, 500 patients' states stalled the agent
for 0.15-0.25 s every 5 s, and the chunks queued meanwhile made the slowest alarms of a
2,000-bed load.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from faust.types import TP

from models.ecg.alarm_output import alarm_condition, alarm_point
from models.ecg.alarms import AlarmChange, feed_check, feed_silent
from models.ecg.beats import BeatCandidate
from models.ecg.rule_config import RuleConfig
from models.ecg.step import LiveDetector, Rejected, StripInputs, ecg_state_new, ecg_step, ecg_stream_encode
from models.ecg.stream_state import ECGState, FamilyVotes, ecg_state_copy
from streams.app import app
from streams.checkpoint import due_slices, slice_count, slice_picker, slice_turns, state_slice, write_kept
from streams.deadletter import deadletter_output
from streams.delivery import HeldAcks, Output, already_processed, current, publish, run_batches
from streams.ecg.strip import strip_id, strip_render
from streams.metrics import metrics
from streams.outputs import PointBatches
from streams.tables import patient_table, register_patient_states
from streams.topics import conditions_topic, ecg_topic, points_topic
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.ecg import ECGChunk, ecg_validate
from wardwatch.records.errors import InvalidRecord
from wardwatch.settings import get_settings
from wardwatch.topics import ECG

log = logging.getLogger("wardwatch.ecg")

BATCH_MAX = 256  #: chunks per classification batch
BATCH_WITHIN_S = 0.05  #: longest wait to fill a batch (adds at most this latency)
FEED_CHECK_S = 2.0  #: feed-stopped timer period
#: seconds between writes of each ECG state to its changelog (0: after every batch); a record
#: stays unacknowledged until its state is written (``WARDWATCH_ECG_CHECKPOINT_S``)
CHECKPOINT_S = get_settings().ecg_checkpoint_s
CHECKPOINT_SLICE_S = 0.5  #: one slice of the patients' states is written this often
#: slices of patients (by a hash of their id) whose states are written in turn
SLICES = slice_count(CHECKPOINT_S, CHECKPOINT_SLICE_S)
STOP_WRITE_S = 15.0  #: longest a stopping worker waits to write the states (then at least once)
RETIRE_AFTER_S = 6 * 3600.0  #: a stream silent this long (patient discharged) leaves the table
RULES = RuleConfig()

ecg_state = patient_table("ecg-state", restorable=True)


class _Runtime:
    """Process-local helpers (not patient state): the classifier, a cache of live detectors
    validated against the table (a rebuilt-from-state detector is identical, only slower), and
    the lock that keeps the feed timer and the agent from interleaving table updates."""

    def __init__(self) -> None:
        self.classifier: Any = None
        self.classifier_error: str | None = None
        self.versions: dict[str, str] = {}
        self.streams: dict[str, LiveDetector] = {}
        self.lock = asyncio.Lock()
        self.acks = HeldAcks()  # the records since the last checkpoint of their states
        self.turns = _turns(time.monotonic())
        #: patients whose state's detector is older than their live one (the step leaves its
        #: encoding to :func:`_encode_streams`, before the state is stored)
        self.unencoded: set[str] = set()

    def forget(self, pid: str) -> None:
        """Drop a patient's process-local caches (discharged, idle or retired)."""
        self.streams.pop(pid, None)
        self.unencoded.discard(pid)

    def load_classifier(self) -> None:
        if self.classifier is not None or self.classifier_error is not None:
            return
        try:
            from models.ecg.classify import BeatClassifier

            self.classifier = BeatClassifier()
            self.versions = {"beat_classifier": self.classifier.version}
        except Exception as e:  # noqa: BLE001 - no model artifact: degrade to QRS-only rules, loudly
            self.classifier_error = f"{type(e).__name__}: {e}"
            self.versions = {"beat_classifier": "unavailable"}
            log_event(
                log,
                "beat classifier unavailable; beats labelled Q (rate/pause/technical alarms only)",
                logging.ERROR,
                error=self.classifier_error,
            )

    def predict(self, beats: Sequence[BeatCandidate], votes: Sequence[FamilyVotes]) -> tuple[list[str], None]:
        """Labels of a batch's candidates in one call (the step's classifier): Q for all when the
        classifier is unavailable or fails, so rate/pause/technical alarms keep running."""
        labels = ["Q"] * len(beats)
        if self.classifier is not None:
            try:
                labels, _ = self.classifier.predict(beats, votes)
            except Exception:  # keep rate/pause/technical alarms running
                log.exception("beat classification failed; batch labelled Q")
                metrics.incr("ecg_classify_errors")
        metrics.incr("ecg_beats_classified", len(beats))
        return labels, None


def _turns(now: float) -> list[float]:
    """When each slice of the states was last due (:func:`streams.checkpoint.slice_turns`)."""
    return slice_turns(now, CHECKPOINT_S, SLICES)


def _due(now: float) -> set[int]:
    """The slices whose turn to be written has come (:func:`streams.checkpoint.due_slices`)."""
    return due_slices(rt.turns, now, CHECKPOINT_S) if CHECKPOINT_S > 0 else set(range(SLICES))


def _slice(key: str) -> int:
    """The slice of a patient's state (:func:`streams.checkpoint.state_slice`)."""
    return state_slice(key, SLICES)


rt = _Runtime()
register_patient_states(ecg_state, rt.lock, rt.forget)


def _encode_streams(pids: Any) -> None:
    """Write the live detectors of ``pids`` into their states, where the step left them out
    (under ``rt.lock``; before a state is stored or its live detector dropped)."""
    for pid in list(pids):
        if pid not in rt.unencoded:
            continue
        rt.unencoded.discard(pid)
        st = ecg_state.data.get(pid)
        if not st or st.get("last") is None:
            continue  # gone, or its next chunk starts a new detector stream anyway
        if not ecg_stream_encode(st, rt.streams.get(pid)):
            # never expected: a state without its live detector. Its stored detector is older
            # than its last chunk, so its next chunk starts a new detector stream instead
            log_event(
                log, "ecg detector lost; the next chunk starts a new one", logging.ERROR, patient=pid_ref(pid)
            )
            metrics.incr("ecg_detector_lost")
            st["last"] = None


def _deadletter(
    sends: list, reason: str | InvalidRecord, event: Any, key: str | None, detail: dict | None = None
) -> None:
    """Queue a chunk's dead letter with the batch's outputs (published together, confirmed)."""
    output = deadletter_output(event, reason, ECG, key=key, detail=detail)
    sends.append(output)
    metrics.incr("ecg_deadletter")
    log_event(
        log,
        "ecg chunk rejected",
        logging.WARNING,
        reason=output[2]["code"],
        patient=pid_ref(key) if key else "-",
        partition=event.message.partition,
        offset=event.message.offset,
        # where the patient's state says it took its last chunk in (a re-read chunk at or
        # before it is skipped, not rejected)
        state_at=_state_at(key),
    )


def _state_at(key: str | None) -> str:
    st = ecg_state.data.get(key) if key else None
    return f"{st.get('partition')}/{st.get('offset')}" if st else "-"


def _render_strip(pid: str, bed: str, change: AlarmChange, inputs: StripInputs) -> str | None:
    """Render the strip PNG (runs in a worker thread); return its path or None."""
    if inputs.x_uv.size == 0:
        return None
    path = get_settings().artifacts_path / "strips" / f"{strip_id(pid, change.source, change.t)}.png"
    if not path.exists():
        strip_render(
            path,
            inputs.x_uv,
            inputs.fs,
            inputs.t0,
            beats=inputs.beats,
            event_t=change.t,
            title=f"{bed}  {change.source} ({change.priority})",
            lead=inputs.lead,
            second=inputs.second,
        )
    return str(path)


async def _emit(
    sends: list,
    points: PointBatches,
    partition: int,
    pid: str,
    bed: str,
    changes: list[AlarmChange],
    strip: StripInputs | None,
) -> None:
    """Queue the alarm conditions and points of ``changes`` (rendering strips on the way)."""
    key = pid.encode()
    for ch in changes:
        if ch.reassert:  # an alarm still on, sent again: a condition only (no strip, no point)
            sends.append((conditions_topic, key, alarm_condition(ch, pid, bed, rt.versions).to_dict()))
            metrics.incr("ecg_reassertions")
            continue
        path = None
        if ch.active and strip is not None and ch.source != "ecg.feed_stopped":
            try:
                path = await asyncio.to_thread(_render_strip, pid, bed, ch, strip)
            except Exception as e:  # noqa: BLE001 - a strip is evidence, never a reason to lose the alarm
                log_event(
                    log,
                    "strip rendering failed",
                    logging.ERROR,
                    error=repr(e),
                    source=ch.source,
                    patient=pid_ref(pid),
                )
        cond = alarm_condition(ch, pid, bed, rt.versions, path)
        sends.append((conditions_topic, key, cond.to_dict()))
        points.add(partition, [alarm_point(ch, pid, bed, path)])
        metrics.incr("ecg_conditions")
        log_event(
            log,
            "ecg alarm change",
            source=ch.source,
            active=ch.active,
            priority=ch.priority,
            patient=pid_ref(pid),
        )


@app.agent(ecg_topic)
async def analyse_ecg(stream):
    rt.load_classifier()
    await run_batches(stream, _process_locked, BATCH_MAX, BATCH_WITHIN_S, ECG)


async def _process_locked(events: list) -> None:
    async with rt.lock:
        await _replay()
        events = current(app, events)  # none from before a rebalance that came meanwhile
        if not events:
            return
        rt.acks.hold(events, await _process_batch(events))
        await _checkpoint_due()


async def _replay() -> None:
    """Handle again, in order, the batches a failed one put back to the checkpoint's states
    (:meth:`HeldAcks.rewind`; under ``rt.lock``)."""
    while rt.acks.replay:
        rt.acks.replayed(await _process_batch(rt.acks.replay[0]))


async def _checkpoint(slices: Collection[int] | None = None) -> int:
    """Write the states kept since their last checkpoint, those of ``slices`` (None: all), then
    acknowledge the records that made them (under ``rt.lock``); returns how many states it
    wrote."""
    due = slice_picker(slices, SLICES)
    _encode_streams([p for p in rt.unencoded if due is None or due(p)])
    return await write_kept(ecg_state, rt.acks, due, "ecg")


async def _checkpoint_due() -> None:
    """:func:`_checkpoint` of the slices whose turn has come (:func:`_due`), if any; a failure
    (the broker did not take the states) leaves the states kept and the records held for the
    next attempt."""
    due = _due(time.monotonic())
    if not due:
        return
    try:
        await _checkpoint(due)
    except Exception:
        log.exception("ecg checkpoint failed; the states stay kept and their records unacknowledged")
        metrics.incr("ecg_checkpoint_errors")


@app.timer(interval=CHECKPOINT_S / SLICES if CHECKPOINT_S > 0 else 0.5)
async def ecg_checkpoint() -> None:
    """The slices' turns when no batch comes to take them (a quiet ward, the end of a feed); and
    first the batches a failed one left to handle again, which would otherwise wait for the next
    batch (after a batch cancelled at the end of a feed, for ever: its records held, the
    partition's commit stalled)."""
    await _turn()


async def _turn() -> None:
    """:func:`ecg_checkpoint`'s work."""
    async with rt.lock:
        try:
            await _replay()
        except Exception:  # tried again at the next turn, or by the next batch
            log.exception("ecg batches handled again failed; their records stay held")
            return
        await _checkpoint_due()


@app.on_partitions_revoked.connect
async def ecg_checkpoint_on_revoke(sender: Any, /, *revoked: Any, signal: Any, **kwargs: Any) -> None:
    """A rebalance: the states go to the broker before any other worker recovers them, and the
    batches a failure left to handle again are dropped (their partitions are read again from
    the committed offsets, by whichever worker owns them now)."""
    n = 0
    async with rt.lock:
        dropped = rt.acks.forget_replay(app.consumer)
        try:
            n = await _checkpoint()
        except Exception:  # never crash the worker in a rebalance
            # states the broker did not take must not be written later, when another worker may
            # own their partitions: back to the checkpoint, and every record since is read again
            log.exception("ecg checkpoint on revocation failed; the states go back to the last one")
            metrics.incr("ecg_checkpoint_errors")
            _rewind(())
            dropped += rt.acks.forget_replay(app.consumer)
        log_event(log, "ecg states written on revocation", states=n, dropped_replay=dropped)


@app.on_before_shutdown.connect
async def ecg_checkpoint_on_stop(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """A clean stop (the consumer has stopped, the producer not yet): the states kept since the
    last checkpoint are written, so that the worker reading their records again (their offsets
    were not committed) recognises them as taken in instead of sending their outputs again."""
    try:
        async with asyncio.timeout(STOP_WRITE_S), rt.lock:
            n = await _checkpoint()
    except Exception:  # at least once: the records since the last one are read again
        log.exception("ecg checkpoint on stop failed; the records since the last one will be handled again")
        return
    log_event(log, "ecg states written on stop", states=n)


_STAGE_LOG = {"admit": "ecg admit failed", "detect": "ecg detection failed", "analyse": "ecg analysis failed"}


def _rejected(sends: list, r: Rejected, event: Any, key: str | None) -> None:
    """Dead-letter a chunk the step rejected (logging a processing error's traceback)."""
    if r.error is not None:
        log.error(_STAGE_LOG[r.stage], exc_info=r.error)
    if r.stage == "analyse":
        metrics.incr("ecg_analysis_errors")
    _deadletter(sends, r.reason, event, key, r.detail)


def _take_in(
    events: list, keys: list[str | None], states: dict[str, ECGState], pids: list[str | None]
) -> tuple[list[tuple[int, str | InvalidRecord, dict[str, Any]]], list[tuple[int, ECGChunk]]]:
    """Validate the batch's records and read their patients' states: the records that fail, as
    ``(event, reason, detail)``, and the chunks for the step, as ``(event, chunk)``; ``pids[i]``
    is set to the patient of each record that validated (its state holds its acknowledgement:
    also a chunk read again, whose first copy's state may not be written yet)."""
    now = datetime.now(UTC)
    early: list[tuple[int, str | InvalidRecord, dict[str, Any]]] = []
    admitted: list[tuple[int, ECGChunk]] = []
    taken: dict[str, int] = {}  # per patient, the offset of its last chunk taken into this batch
    for i, event in enumerate(events):
        try:
            chunk = ecg_validate(event.message.value, key=keys[i], now=now)
            pid = pids[i] = chunk.patient_id
            if pid not in states:  # the table's own state (the step updates it in place)
                stored = ecg_state[pid]
                states[pid] = stored if stored else ecg_state_new()
                ecg_state.hold([pid])  # as it is now, for a batch that fails before the write
            # read again: its outputs went out before its state, or it is in this very batch
            # already (a partition read again from an earlier offset while the batch filled:
            # the states are checked before the step takes the batch's chunks in)
            if event.message.offset <= taken.get(pid, -1) or already_processed(
                states[pid], event.message.partition, event.message.offset
            ):
                metrics.incr("ecg_redelivered")
                continue
        except InvalidRecord as e:
            early.append((i, e, {"code": e.code}))
            continue
        except Exception as e:  # a state we cannot read: never lose the chunk silently
            log.exception("ecg admit failed")
            early.append((i, f"processing_error: {type(e).__name__}: {e}", {"code": "processing_error"}))
            continue
        admitted.append((i, chunk))
        taken[pid] = event.message.offset
    return early, admitted


async def _process_batch(events: list) -> list[str | None]:
    """One batch: every output (conditions, points, dead letters) is published and acknowledged
    by the broker before the patients' states are kept in the table (written to its changelog at
    their slice's next checkpoint, :func:`_checkpoint`). Returns the patient of each record
    (None: a record that did not validate), for :meth:`HeldAcks.hold`.

    The step updates the table's own states in place (copying them first cost ~8 % of the ECG
    worker's time). If anything fails or the batch is cancelled before its states are kept,
    the table puts every state kept since the last checkpoint, and this batch's, back to the
    checkpoint (:meth:`PatientStateTable.restore`), and the batches since the checkpoint are
    handled again before anything else (:meth:`HeldAcks.rewind`): the batch handled again takes
    its chunks in afresh instead of finding them "duplicates" (their outputs would be lost)."""
    states: dict[str, ECGState] = {}
    pids: list[str | None] = [None] * len(events)
    try:
        await _handle(events, states, pids)
    except BaseException:
        _rewind(states)
        raise
    return pids


def _rewind(keys: Any) -> None:
    """Every state kept since the last checkpoint, and those of ``keys``, back to it (encoded
    detectors and all); the batches held since are to be handled again."""
    ecg_state.restore(keys)
    rt.unencoded.clear()
    rt.acks.rewind()


async def _handle(events: list, states: dict[str, ECGState], pids: list[str | None]) -> None:
    sends: list[Output] = []
    points = PointBatches()
    keys = [e.message.key.decode("utf-8", "replace") if e.message.key else None for e in events]
    early, admitted = _take_in(events, keys, states, pids)
    # in a worker thread, so that the event loop goes on serving the vitals, alert and sink
    # agents meanwhile (the step is tens of ms to seconds of numpy per batch); the states, the
    # live detectors and the classifier are only touched under rt.lock, which the caller holds
    res = await asyncio.to_thread(
        ecg_step,
        states,
        [c for _, c in admitted],
        rt,
        time.time(),
        partitions=[events[i].message.partition for i, _ in admitted],
        live=rt.streams,
        cfg=RULES,
        encode_streams=False,  # encoded when stored (_encode_streams)
    )
    rt.unencoded.update(c.patient_id for _, c in admitted)
    # dead letters of the admission stage, in event order (as the chunks were taken in)
    verdicts = sorted(
        [(i, r, d, None) for i, r, d in early]
        + [(admitted[r.index][0], r.reason, r.detail, r) for r in res.rejected],
        key=lambda v: v[0],
    )
    for i, reason, detail, rej in verdicts:
        if rej is None:
            _deadletter(sends, reason, events[i], keys[i], detail)
        else:
            _rejected(sends, rej, events[i], keys[i])
    for out in res.results:
        if out.rejected is not None:
            _rejected(sends, out.rejected, events[admitted[out.index][0]], out.chunk.patient_id)
            continue
        part = events[admitted[out.index][0]].message.partition
        if out.changes:
            await _emit(sends, points, part, out.chunk.patient_id, out.chunk.bed, out.changes, out.strip)
        points.add(part, out.points)
        metrics.incr("ecg_chunks")
    for i, chunk in admitted:  # the last input each state took in (re-delivery check)
        states[chunk.patient_id]["offset"] = events[i].message.offset
    await publish(sends + points.sends(points_topic))
    ecg_state.keep(states)


@app.timer(interval=FEED_CHECK_S)
async def ecg_feed_watch() -> None:
    """Feed stopped: no chunk for ``RULES.feed_timeout_s`` (wall clock) on an active stream."""
    try:
        await _feed_watch()
    except Exception:
        log.exception("ecg feed watch failed")
        metrics.incr("ecg_feed_watch_errors")


async def _feed_watch() -> None:
    try:
        actives = app.assignor.assigned_actives()
    except Exception:  # noqa: BLE001 - not assigned yet (rebalancing)
        return
    now = time.time()
    async with rt.lock:
        for pid, st in list(ecg_state.items()):
            if not st or st.get("last") is None or "rx_wall" not in st:
                continue
            if not feed_silent(st["rx_wall"], now, RULES):
                continue  # feed_check changes nothing yet: no copy of the state to make
            if TP(ECG, int(st.get("partition", -1))) not in actives:
                continue  # a standby copy: the worker that owns the partition alarms
            if now - st["rx_wall"] > RETIRE_AFTER_S:
                await ecg_state.retire(pid, st["partition"])  # feed-stopped was raised hours ago
                rt.forget(pid)
                continue
            _encode_streams([pid])  # its live detector is dropped below
            new = ecg_state_copy(st)  # the table's state changes once the alarm is out
            changes = feed_check(
                new["rules"],
                last_rx_wall=st["rx_wall"],
                now_wall=now,
                last_end_t=st["last"]["end_t"],
                cfg=RULES,
            )
            if changes:
                sends: list[Output] = []
                points = PointBatches()
                await _emit(sends, points, int(st["partition"]), pid, st.get("bed", ""), changes, None)
                await publish(sends + points.sends(points_topic))
                ecg_state.keep({pid: new})  # written with the next checkpoint
                rt.streams.pop(pid, None)
