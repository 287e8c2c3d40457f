"""The ECG agent: chunks in -> validate -> detect (per patient) -> classify (batched across
patients) -> rules -> alarm conditions, InfluxDB points, ECG strips.

Thin by design: validation is :mod:`wardwatch.records.ecg`, the per-patient steps are
:mod:`streams.ecg.process`, the rules :mod:`streams.ecg.rules`, the detector and classifier
:mod:`models.ecg.pipeline`. This module moves data between the ``ecg`` topic, the changelog
table ``ecg-state`` and those functions.

Batching: :func:`streams.delivery.acked_batches` collects up to :data:`BATCH_MAX` chunks (many patients) or
:data:`BATCH_WITHIN_S` seconds, then every beat candidate of the batch goes through one
``BeatClassifier.predict`` call.

Changelog partition: ``ecg-state`` is a :class:`streams.tables.PatientStateTable` (each
patient's state goes to the partition its ``ecg`` records come from).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from faust.types import TP

from models.ecg.pipeline import ECGBeatStream
from streams.app import app
from streams.deadletter import deadletter_output
from streams.delivery import acked_batches, publish
from streams.ecg.process import (
    Detection,
    StripInputs,
    alarm_condition,
    alarm_point,
    ecg_admit,
    ecg_analyse,
    ecg_detect,
    ecg_state_new,
    strip_inputs,
)
from streams.ecg.rules import AlarmChange, RuleConfig, feed_check
from streams.ecg.strip import strip_id, strip_render
from streams.metrics import metrics
from streams.tables import patient_table
from streams.topics import conditions_topic, ecg_topic, points_topic
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.ecg import ECGChunk, ecg_validate
from wardwatch.records.errors import InvalidRecord
from wardwatch.settings import get_settings
from wardwatch.topics import ECG

log = logging.getLogger("wardwatch.ecg")

BATCH_MAX = 256          #: chunks per classification batch
BATCH_WITHIN_S = 0.25    #: longest wait to fill a batch (adds at most this latency)
FEED_CHECK_S = 2.0       #: feed-stopped timer period
RETIRE_AFTER_S = 6 * 3600.0  #: a stream silent this long (patient discharged) leaves the table
RULES = RuleConfig()

ecg_state = patient_table("ecg-state")


class _Runtime:
    """Process-local helpers (not patient state): the classifier, a cache of live detectors
    validated against the table (a rebuilt-from-state detector is identical, only slower), and
    the lock that keeps the feed timer and the agent from interleaving table updates."""

    def __init__(self) -> None:
        self.classifier: Any = None
        self.classifier_error: str | None = None
        self.versions: dict[str, str] = {}
        self.streams: dict[str, tuple[int, float, ECGBeatStream]] = {}
        self.lock = asyncio.Lock()

    def load_classifier(self) -> None:
        if self.classifier is not None or self.classifier_error is not None:
            return
        try:
            from models.ecg.pipeline import BeatClassifier

            self.classifier = BeatClassifier()
            self.versions = {"beat_classifier": self.classifier.version}
        except Exception as e:  # noqa: BLE001 - no model artifact: degrade to QRS-only rules, loudly
            self.classifier_error = f"{type(e).__name__}: {e}"
            self.versions = {"beat_classifier": "unavailable"}
            log_event(log, "beat classifier unavailable; beats labelled Q (rate/pause/technical "
                      "alarms only)", logging.ERROR, error=self.classifier_error)

    def classify(self, work: list[tuple[Detection, dict]]) -> list[list[str]]:
        """Labels per detection of ``(detection, patient state)`` pairs, in one batched call
        (the patient's family votes are updated in its state)."""
        dets = [d for d, _ in work]
        cands = [c for d in dets for c in d.candidates]
        if not cands:
            return [[] for _ in dets]
        labels = ["Q"] * len(cands)
        if self.classifier is not None:
            try:
                votes = [st["votes"] for d, st in work for _ in d.candidates]
                labels, _ = self.classifier.predict(cands, votes)
            except Exception:  # keep rate/pause/technical alarms running
                log.exception("beat classification failed; batch labelled Q")
                metrics.incr("ecg_classify_errors")
        metrics.incr("ecg_beats_classified", len(cands))
        out, i = [], 0
        for d in dets:
            out.append(list(labels[i:i + len(d.candidates)]))
            i += len(d.candidates)
        return out


rt = _Runtime()


def _deadletter(sends: list, reason: str, event: Any, key: str | None,
                detail: dict | None = None) -> None:
    """Queue a chunk's dead letter with the batch's outputs (published together, confirmed)."""
    sends.append(deadletter_output(event, reason, ECG, key=key, detail=detail))
    metrics.incr("ecg_deadletter")
    log_event(log, "ecg chunk rejected", logging.WARNING, reason=reason.split(":")[0],
              patient=pid_ref(key) if key else "-", offset=event.message.offset)


def _render_strip(pid: str, bed: str, change: AlarmChange, inputs: StripInputs) -> str | None:
    """Render the strip PNG (runs in a worker thread); return its path or None."""
    if inputs.x_uv.size == 0:
        return None
    path = get_settings().artifacts_path / "strips" / f"{strip_id(pid, change.source, change.t)}.png"
    if not path.exists():
        strip_render(path, inputs.x_uv, inputs.fs, inputs.t0, beats=inputs.beats, event_t=change.t,
                     title=f"{bed}  {change.source} ({change.priority})", lead=inputs.lead,
                     second=inputs.second)
    return str(path)


async def _emit(sends: list, pid: str, bed: str, changes: list[AlarmChange],
                strip: StripInputs | None) -> None:
    """Queue the alarm conditions and points of ``changes`` (rendering strips on the way)."""
    key = pid.encode()
    for ch in changes:
        path = None
        if ch.active and strip is not None and ch.source != "ecg.feed_stopped":
            try:
                path = await asyncio.to_thread(_render_strip, pid, bed, ch, strip)
            except Exception as e:  # noqa: BLE001 - a strip is evidence, never a reason to lose the alarm
                log_event(log, "strip rendering failed", logging.ERROR, error=repr(e),
                          source=ch.source, patient=pid_ref(pid))
        cond = alarm_condition(ch, pid, bed, rt.versions, path)
        sends.append((conditions_topic, key, cond.to_dict()))
        sends.append((points_topic, key, alarm_point(ch, pid, bed, path)))
        metrics.incr("ecg_conditions")
        log_event(log, "ecg alarm change", source=ch.source, active=ch.active,
                  priority=ch.priority, patient=pid_ref(pid))


@app.agent(ecg_topic)
async def analyse_ecg(stream):
    rt.load_classifier()
    async for events in acked_batches(stream, BATCH_MAX, BATCH_WITHIN_S):
        async with rt.lock:
            await _process_batch(events)


async def _process_batch(events: list) -> None:
    """One batch: every output (conditions, points, dead letters) is published and acknowledged
    by the broker before the patients' states are written to the table."""
    now = datetime.now(UTC)
    sends: list[tuple[Any, bytes | None, Any]] = []
    states: dict[str, dict] = {}
    work: list[tuple[Any, ECGChunk, Detection, dict, list[AlarmChange]]] = []
    for event in events:
        msg = event.message
        key = msg.key.decode("utf-8", "replace") if msg.key else None
        try:
            chunk = ecg_validate(msg.value, key=key, now=now)
            pid = chunk.patient_id
            if pid not in states:
                states[pid] = ecg_state[pid] or ecg_state_new()
            st = states[pid]
            verdict, changes = ecg_admit(st, chunk, time.time(), msg.partition)
        except InvalidRecord as e:
            _deadletter(sends, e.reason, event, key, {"code": e.code})
            continue
        except Exception as e:  # a bug or a state we cannot read: never lose the chunk silently
            log.exception("ecg admit failed")
            _deadletter(sends, f"processing_error: {type(e).__name__}: {e}", event, key,
                        {"code": "processing_error"})
            continue
        if verdict.kind == "gap":
            # the chunk is analysed; the missing seconds are reported, continuity restarts
            _deadletter(sends, f"seq_gap: {verdict.missing} chunk(s) missing before seq {chunk.seq}",
                        event, key, {"code": "seq_gap", "missing": verdict.missing,
                                     "processed": True})
        cached = rt.streams.get(pid)
        live = None
        if (verdict.continuous and cached is not None and cached[0] == chunk.seq - 1
                and cached[1] == st.get("seg_t0")):
            live = cached[2]
        try:
            det, live = ecg_detect(st, chunk, RULES, live)
        except Exception as e:
            log.exception("ecg detection failed")
            rt.streams.pop(pid, None)
            _deadletter(sends, f"processing_error: {type(e).__name__}: {e}", event, key,
                        {"code": "processing_error"})
            continue
        rt.streams[pid] = (chunk.seq, st["seg_t0"], live)
        work.append((event, chunk, det, st, changes))
    if work:
        await _analyse(work, sends)
    await publish(sends)
    for pid, st in states.items():
        ecg_state[pid] = st


async def _analyse(work: list, sends: list) -> None:
    """Classify the batch's beats in one call, then run each chunk's rules; queue the outputs."""
    labels = rt.classify([(w[2], w[3]) for w in work])
    for (event, chunk, det, st, changes), labs in zip(work, labels, strict=True):
        try:
            res = ecg_analyse(st, chunk, det, labs, RULES)
        except Exception as e:  # a bug: the chunk goes to deadletter, the batch goes on
            log.exception("ecg analysis failed")
            metrics.incr("ecg_analysis_errors")
            _deadletter(sends, f"processing_error: {type(e).__name__}: {e}", event,
                        chunk.patient_id, {"code": "processing_error", "stage": "analyse"})
            continue
        changes = changes + res.changes
        if changes:
            strip = strip_inputs(st, det) if det.buf else None
            await _emit(sends, chunk.patient_id, chunk.bed, changes, strip)
        pkey = chunk.patient_id.encode()
        sends += [(points_topic, pkey, p) for p in res.points]
        metrics.incr("ecg_chunks")


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
            if TP(ECG, int(st.get("partition", -1))) not in actives:
                continue  # a standby copy: the worker that owns the partition alarms
            if now - st["rx_wall"] > RETIRE_AFTER_S:
                ecg_state.retire(pid, st["partition"])  # feed-stopped was raised hours ago
                rt.streams.pop(pid, None)
                continue
            changes = feed_check(st["rules"], last_rx_wall=st["rx_wall"], now_wall=now,
                                 last_end_t=st["last"]["end_t"], cfg=RULES)
            if changes:
                sends: list[tuple[Any, bytes | None, Any]] = []
                await _emit(sends, pid, st.get("bed", ""), changes, None)
                await publish(sends)
                ecg_state[pid] = st
                rt.streams.pop(pid, None)
