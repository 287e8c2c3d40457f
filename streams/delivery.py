"""At-least-once delivery under Faust: nothing acknowledged that no agent processed (issue #25).

Faust (faust-streaming 0.15.3) decides which fetched records reach the agents and which offsets
are committed. Four of its rules let a commit pass a record that no agent ever processed, so
that the record is neither processed nor dead-lettered; seen around worker kills and the
rebalances that follow (instrumented runs: every restart delivered a record fetched before the
recovery seek *after* it):

1. **Records delivered before the seek, and gap filling after it.** Right after an assignment
   Faust delivers records before the recovery has sought the partition to its committed offset;
   a record fetched long before (far ahead) is processed, the patient's state moves past
   records nobody processed, and when those arrive they are "out of order".
   **Gap filling:** When a fetched record's offset jumps past the read position,
   Faust marks the offsets in between as acknowledged (meant for compacted topics and
   transaction markers). Right after a rebalance the recovery seeks every partition back to its
   committed offset while records fetched before the seek are still being delivered; such a
   stale record jumps ahead, the offsets it jumps over are "acknowledged" unprocessed, and when
   the fetcher then reads them from the new position they are dropped as already read.
2. **Committing past the head.** The commit skips a single unacknowledged record at the
   committed offset (``min(acked) - committed > 1`` instead of ``> 0``; upstream
   faust-streaming issue #606) and checks nothing when the committed offset is 0.
3. **A partition never committed is not read from its start after a rebalance.** The seek to
   the committed offset leaves such a partition where the fetcher was; records fetched before
   the rebalance and cleared from the agents' queues with it are skipped, and the first commit
   then takes whatever run was acknowledged. Such a partition is now read from its first
   offset (the app's ``earliest`` policy), and that offset is its commit head.
4. **A flush that does not flush.** Before committing, Faust flushes its producer buffer (where
   ``send_soon`` outputs and table changelogs wait); that flush returns as soon as one message
   takes longer than 0.1 s, buffered messages and all, and the commit goes ahead.
5. **A commit racing a rebalance crashes the worker.** When every partition of a commit has
   moved to another member by the time the consumer thread runs it, Faust hands aiokafka an empty
   offsets dict, aiokafka raises ``ValueError({})`` and Faust crashes the worker (seen in a
   ten-kill run). Such a commit now does nothing: the partitions' new owner reads on from the
   last committed offset (at least once, nothing lost).
6. **A record the streams skip is counted as delivered.** The streams drop, unacknowledged (fix 7), a
   record whose generation is not the app's current one (it was fetched before a rebalance)
   and every record they take while the app's flow is stopped (after a rebalance's seek, until
   its recovery resumes the flow), but the fetch loop has already counted it as delivered:
   nothing reads it again and no commit can pass it. Worse, the records after it are
   processed, so when it is read again (a later rebalance, :func:`unstall`) the patient's state
   is already past it and it is skipped as processed: lost (the SIGKILL test lost 160-480
   readings a run this way). Such a record now makes the loop read its partition again from
   it, once the flow runs.

7. **A record the streams skip is acknowledged.** Faust's Cython stream iterator (what a worker
   runs) drops the record of 6 unacknowledged, but its pure-Python one (``Stream._py_aiter``,
   used where the extension does not load) acknowledges it, and the commit may then pass it
   before :class:`InOrder` or :func:`unstall` has it read again: a worker that dies in between
   loses it. A record no stream took in (``message.tracked`` is false: a stream marks each
   record of an acknowledged topic it takes) is no longer counted as acknowledged.

8. **A record fetched before a seek is delivered after it.** A seek (a rebalance's seek to the
   committed offsets, a recovery's seek of the changelogs to where the table stands, fix 1's
   re-reads) makes aiokafka drop what it has buffered for the partition and fetch again from
   the new position, but not what it has already handed to Faust: a batch the fetch loop is
   still working through. Delivered after the seek, such a record moves the read position past
   the records the seek is to deliver, and those are then dropped as already read. On a
   changelog nothing reads them again: the table recovery waits for them for ever (the hang of
   the takeover test, stop 39), or ends without them. aiokafka's fetcher now counts the seeks of
   every partition, each fetch notes the counts it was fetched under, and the fetch loop drops
   a record whose partition has been sought since (the seek's position reads it again); a
   record whose delivery waited across a seek leaves the seek's read position alone. Seeks
   run in the consumer's thread, where the fetches run, so that none falls between a fetch
   and its count.

9. **Changelog records fetched and then dropped are never read again.** When the app's flow
   stops between a fetch and its delivery (a rebalance), Faust's ``getmany`` drops the rest of
   the batch and seeks every partition back to its committed offset. A changelog has no
   committed offset, so its position stays past the dropped records. Seen in the takeover test
   (stop 40, and CI at stop 39): a fetch that started before a rebalance returned the
   changelog records the new recovery had just sought to, while the flow was still stopped;
   dropped, the recovery waited for them for ever. Such a partition is now sought back to its
   first record not handed on, in the consumer's thread and only if nothing has sought it
   since the fetch (then that seek decides what is read).

Our input topics are never compacted and no producer writes transactions into them, so a jump
in offsets is a stale record: :func:`delivery_verdict` holds it back and the partition is read
again from the expected offset, which delivers every record once, in order. The commit takes
only the run of acknowledged offsets that starts at the committed offset
(:func:`committable_run`), and the buffer flush waits until the buffer is empty.

Agents send their outputs with :func:`publish`, which returns once the broker has acknowledged
every one of them; only then do they write table state and acknowledge their input. A failed
send is otherwise a log line in Faust, and a state change whose changelog reached the broker
before the outputs it implies would turn the re-delivered input into a "duplicate".

:func:`install` applies the fixes to Faust's classes; ``streams.app`` calls it before it
creates the app. A Faust upgrade must re-check each one (``FAUST_VERSION``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import traceback
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiokafka
import faust
from aiokafka.consumer import fetcher as aiokafka_fetcher
from faust.transport import consumer as faust_consumer
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.metrics import metrics
from wardwatch.kafka_io import never_sendable

FAUST_VERSION = "0.15.3"
AIOKAFKA_VERSION = "0.14.0"
#: a jump that stays after this many re-reads of the partition is a real gap (never expected on
#: our topics; delivering then keeps a partition from stalling forever)
REAL_GAP_AFTER_REREADS = 3

#: seconds between attempts while the broker does not acknowledge an output (then the last)
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)

log = logging.getLogger("wardwatch.delivery")
#: ``WARDWATCH_DELIVERY_TRACE=1``: log every seek of the fetcher and every changelog fetch (a
#: diagnosis aid for rebalance and recovery bugs; verbose)
TRACE = os.environ.get("WARDWATCH_DELIVERY_TRACE") == "1"


#: an agent's output: ``(topic, key, value)``, or ``(topic, key, value, partition)`` (a ``str``
#: key is encoded by the destination's key serializer: a table's changelog)
Output = tuple[Any, bytes | str | None, Any] | tuple[Any, bytes | str | None, Any, int]


class Undeliverable(Exception):
    """An output the broker can never take: it cannot be serialised, or it is larger than the
    producer or the topic allows. Sending it again would hold its partition forever."""


async def publish(sends: Sequence[Output]) -> list[bytes | None]:
    """Send every ``(topic, key, value[, partition])`` (a ``None`` value is a tombstone) and
    return when the broker has acknowledged all of them; what fails is sent again with backoff
    for as long as it takes (the caller waits: nothing is dropped). Returns the values as sent
    (serialised), in order.

    An output that can never be sent raises :class:`Undeliverable` instead: one that cannot be
    serialised (checked for every output before any is sent) or that is too large (the outputs
    sent before it may then go out again, at least once). The caller's record is then handled
    on its own and dead-lettered (:func:`run_batches`) rather than holding its partition."""
    prepared = [_prepare(out) for out in sends]
    pending, attempt = prepared, 0
    while pending:
        futures: list[Any] = []
        for out in pending:
            try:
                futures.append(await _send(out))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - counted as failed below, sent again
                futures.append(e)
        results = await asyncio.gather(
            *(f for f in futures if not isinstance(f, BaseException)), return_exceptions=True
        )
        it = iter(results)
        outcome = [f if isinstance(f, BaseException) else next(it) for f in futures]
        failed = [s for s, r in zip(pending, outcome, strict=True) if isinstance(r, BaseException)]
        if not failed:
            break
        first = next(r for r in outcome if isinstance(r, BaseException))
        refused = next((r for r in outcome if isinstance(r, BaseException) and never_sendable(r)), None)
        if refused is not None:
            metrics.incr("outputs_undeliverable")
            raise Undeliverable(f"{type(refused).__name__}: {refused}"[:300]) from refused
        delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
        attempt += 1
        log.warning(
            "%d of %d outputs not acknowledged (%s: %s); retry %d in %.1fs",
            len(failed),
            len(pending),
            type(first).__name__,
            first,
            attempt,
            delay,
        )
        await asyncio.sleep(delay)
        pending = failed
    return [p.value for p in prepared]


@dataclass(frozen=True)
class _Prepared:
    """An output as the topic's serialisers turn it into bytes (done once, not per attempt)."""

    topic: Any
    key: bytes | None
    value: bytes | None
    partition: int | None
    headers: Any


def _prepare(out: Output) -> _Prepared:
    """``topic.send``'s serialisation of one output; raises :class:`Undeliverable` for one the
    codec refuses (e.g. an integer beyond 64 bits for orjson)."""
    topic, key, value = out[0], out[1], out[2]
    try:
        headers = topic.prepare_headers(None)
        k, headers = topic.prepare_key(key, None, None, headers)
        # None: a tombstone (a table's deleted key), not the JSON ``null``
        v, headers = (None, headers) if value is None else topic.prepare_value(value, None, None, headers)
    except Exception as e:  # whatever the codec raises: never sendable
        metrics.incr("outputs_undeliverable")
        name = topic.get_topic_name()
        raise Undeliverable(f"cannot serialise an output for {name}: {type(e).__name__}: {e}"[:300]) from e
    return _Prepared(topic, k, v, out[3] if len(out) > 3 else None, headers or None)


async def _send(out: _Prepared) -> Any:
    """``topic.send(key=, value=, partition=)``: the same bytes (the topic's own serialisers)
    handed to the same producer, without Faust's per-message promise, sensor and attachment
    layers (~6 % of a worker's event loop at 2,000 beds). Returns the future the broker's
    acknowledgement resolves."""
    producer = await out.topic.app.maybe_start_producer()
    name = out.topic.get_topic_name()
    return await producer.send(name, out.key, out.value, out.partition, None, out.headers)


def already_processed(state: Mapping[str, Any], partition: int, offset: int) -> bool:
    """Whether a patient's ``state`` already took in the record at ``offset`` of ``partition``
    (the state records the partition and offset of the last record it took in).

    A record is re-delivered after a rebalance when its outputs and the state reached the broker
    but its offset was not committed yet. Its outputs were published before the state was
    written, so taking it in again would only make it a "duplicate" dead letter: it is skipped.
    A patient's records all sit on one partition (keyed by patient id).

    Examples
    --------
    >>> already_processed({"partition": 2, "offset": 41}, 2, 41), already_processed({}, 2, 41)
    (True, False)
    """
    return state.get("partition") == partition and int(state.get("offset", -1)) >= offset


async def acked_batches(stream: Any, max_events: int, within_s: float) -> Any:
    """``stream.take_events`` batches, each acknowledged only after the agent has handled it
    (the body of its ``async for`` returned: outputs published), and each holding a partition's
    records only in order and without a gap (:class:`InOrder`)."""
    in_order = InOrder(stream.app)
    async for events in stream.take_events(max_events, within=within_s):
        events = await in_order.admit(events)
        if not events:
            continue
        # Faust's take_events acknowledges every record of the batch when it moves on or closes,
        # also when the agent's body raised (the agent crashed; Faust restarts it) or was
        # cancelled, and a commit would then pass records nobody processed. So the batch holds
        # one reference more while the body runs, which only a body that returned gives up.
        for event in events:
            event.message.incref()
        try:
            yield events
        except GeneratorExit:  # the body did not return: no agent holds these records now
            for event in events:
                stream.app.consumer._unacked_messages.discard(event.message)
            log.error("a batch of %d records was not handled; they will be read again", len(events))
            raise
        observe_batch(events)
        for event in events:
            await stream.ack(event)  # the batch's own acknowledgement (take_events') is the last


async def run_batches(
    stream: Any,
    handle: Callable[[list[Any]], Any],
    max_events: int,
    within_s: float,
    source_topic: str,
) -> None:
    """An agent's loop: ``await handle(events)`` for each of :func:`acked_batches`' batches.

    A handler dead-letters bad input itself; if it raises, that is a bug, and neither crashing
    the agent nor acknowledging the batch unprocessed is acceptable. The batch is handled again
    one record at a time, so the good records around the one that fails are processed, and a
    record that still fails is dead-lettered (``processing_error``, with the exception; or
    ``undeliverable`` when an output of it can never be sent) instead.
    Outputs a failed handler published before it raised may go out again (at least once)."""
    async for events in acked_batches(stream, max_events, within_s):
        try:
            await handle(events)
            continue
        except Exception as e:  # noqa: BLE001 - a bug in a handler: handled record by record below
            log.error(
                "a batch of %d %s records failed (%s); handling them one by one",
                len(events),
                source_topic,
                _where(e),
            )
            metrics.incr("batch_errors")
        for event in events:
            try:
                await handle([event])
            except Exception as e:  # noqa: BLE001 - dead-lettered with the exception, not lost
                log.error("a %s record failed on its own (%s); dead-lettered", source_topic, _where(e))
                await _deadletter_failed(event, e, source_topic)


class HeldAcks:
    """The records of the batches an agent handled since it last wrote their states, held
    unacknowledged until it does (an agent that writes its states by checkpoint).

    A commit then never passes a record whose state a worker taking the partition over would not
    recover: a record after the checkpoint is read again by the next owner and handled again
    from the checkpoint's state (its outputs go out again: at least once). Each record gets one
    reference more when its batch is held (:meth:`hold`), with the key of the state it went
    into; :meth:`release` gives it up once that state is on the broker, which acknowledges it.
    When a batch fails and the agent puts its states back to the checkpoint, the records still
    held are to be handled again, in order, before anything else (:meth:`rewind`,
    :attr:`replay`)."""

    def __init__(self) -> None:
        self.held: list[list[tuple[Any, str | None]]] = []  # per batch: (record, its state's key)
        self.replay: list[list[Any]] = []

    def hold(self, events: list[Any], keys: Sequence[str | None]) -> None:
        """``keys[i]``: the key of the state ``events[i]`` went into (None: none, e.g. a record
        dead-lettered before its patient was known: released by any :meth:`release`)."""
        for event in events:
            event.message.incref()
        self.held.append(list(zip(events, keys, strict=True)))

    def count(self) -> int:
        return sum(len(b) for b in self.held)

    def release(self, written: Callable[[str], bool] | None = None) -> int:
        """Acknowledge the held records whose states are on the broker (those whose key
        ``written`` picks; None: all); returns how many. A record found acknowledged already
        (its commit may have passed the checkpoint: a reference given up twice somewhere) is
        counted (``delivery_acked_early``) and logged."""
        n = early = 0
        still: list[list[tuple[Any, str | None]]] = []
        for batch in self.held:
            rest: list[tuple[Any, str | None]] = []
            for event, key in batch:
                if written is not None and key is not None and not written(key):
                    rest.append((event, key))
                    continue
                early += bool(event.message.acked)
                event.ack()
                n += 1
            if rest:
                still.append(rest)
        self.held = still
        if early:
            metrics.incr("delivery_acked_early", early)
            log.error("%d held records were acknowledged before the checkpoint that holds them", early)
        return n

    def rewind(self) -> None:
        """The held records' effects were undone: they are handled again before anything else."""
        self.replay[:0] = [[event for event, _ in batch] for batch in self.held]
        self.held = []

    def replayed(self, keys: Sequence[str | None]) -> None:
        """The first batch of :attr:`replay` was handled again: it is held as before (``keys``:
        as for :meth:`hold`)."""
        self.held.append(list(zip(self.replay.pop(0), keys, strict=True)))

    def forget_replay(self, consumer: Any) -> int:
        """Drop the batches still to handle again (a rebalance: their partitions are read again
        from the committed offsets, by whichever worker owns them now); returns how many records."""
        n = 0
        for events in self.replay:
            for event in events:
                consumer._unacked_messages.discard(event.message)
                n += 1
        self.replay.clear()
        return n


async def _deadletter_failed(event: Any, error: Exception, source_topic: str) -> None:
    """Dead-letter a record whose handling raised ``error``: ``undeliverable`` when an output of
    it can never be sent (:class:`Undeliverable`), else ``processing_error``. If the broker
    refuses the dead letter itself as too large, it goes again with the record's first
    ``KEEP_WHEN_TOO_LARGE`` bytes, its size and its hash (``deadletter_record``'s
    ``keep_bytes``): a dead letter is never what holds a partition."""
    from streams.deadletter import deadletter_output
    from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE

    code = "undeliverable" if isinstance(error, Undeliverable) else "processing_error"
    reason = f"{code}: {type(error).__name__}: {error}"[:500]
    try:
        await publish([deadletter_output(event, reason, source_topic, detail={"code": code})])
    except Undeliverable:
        metrics.incr("deadletters_truncated")
        log.error("a %s dead letter was too large for the broker; sent with the record's head", source_topic)
        cut = deadletter_output(
            event, reason, source_topic, detail={"code": code}, keep_bytes=KEEP_WHEN_TOO_LARGE
        )
        await publish([cut])


def _where(e: BaseException) -> str:
    """An exception's type and the line that raised it, for a log line: not its message, which
    may quote a record (a patient id must not reach a log; the dead letter keeps the message)."""
    frames = traceback.extract_tb(e.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(e).__name__}{at}"


def fetched_before(app: Any, message: Any) -> bool:
    """Whether ``message`` was fetched in an earlier consumer generation than the app's (a
    message without one, as in tests' fakes, is judged by its offset alone)."""
    fetched_in = getattr(message, "generation_id", None)
    return fetched_in is not None and fetched_in != app.consumer_generation_id


def keep_back(consumer: Any, message: Any) -> None:
    """Leave ``message`` unacknowledged for good: the stream's own acknowledgements of its
    batch must not count, and no commit waits for it (it is read again from the committed
    offset, by this worker after a seek or by the partition's owner after a rebalance)."""
    message.incref(2)
    consumer._unacked_messages.discard(message)


def current(app: Any, events: Sequence[Any]) -> list[Any]:
    """The events of ``events`` an agent may still handle, checked under its state lock right
    before it does: fetched in the app's consumer generation, of a partition assigned and
    sought in it (with a committed offset). The others are kept back (:func:`keep_back`).

    A batch is taken from the stream, then waits for the agent's lock, which a rebalance's
    revocation handler holds while it writes the states. Handled after that, the batch's work
    went into states already written for the partition's next owner: between revocation and
    assignment it is lost to the state the recovery reads back; after the assignment, while
    the recovery still reads the changelog, the recovery puts that written state back over it.
    Stop 51's kill test lost an ECG chunk's heart rate that way: the live detector no longer
    matched the state ("ecg detector lost") and the next chunk started a new detector.
    Records kept back are read again from the committed offset, by whichever worker owns
    their partition in the new generation."""
    consumer = app.consumer
    committed = consumer._committed_offset
    out = []
    for event in events:
        message = event.message
        if fetched_before(app, message) or committed.get(message.tp) is None:
            metrics.incr("delivery_kept_stale")
            keep_back(consumer, message)
        else:
            out.append(event)
    return out


#: seconds before a partition read again for a missing record is read again once more, and how
#: many times before the missing offset is taken to be a real gap (never expected on our topics)
REREAD_AFTER_S, REREADS_BEFORE_GAP = 5.0, 3


class InOrder:
    """The agent's own check that it sees each partition's records one after the other.

    Faust can drop a record on its way to an agent (a stream skips, unacknowledged, what it
    takes while the app's flow is stopped or from an earlier consumer generation; the fetch loop
    guards what it can see, fix 6, but not a flow stopped after a record was queued). If the
    agent then processed the records after it, the patient's state would be past it, and when
    it was read again it would be skipped as already processed: lost. So a batch's records of a
    partition are only taken up to a missing offset; the rest are kept back unacknowledged and
    the partition is read again from the missing record. The next offset of each partition
    starts, in each consumer generation, at its committed offset (where the seek put it); a
    record that comes before the seek, while the partition has none, is kept back too (the
    seek delivers it again, or the partition's new owner reads it), as is a record fetched in
    an earlier consumer generation (the seek delivers it again in this one).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.generation: Any = None
        self.next: dict[Any, int] = {}
        self.rereads: dict[Any, tuple[int, float, int]] = {}  # tp -> (offset, when, times)

    async def admit(self, events: Sequence[Any]) -> list[Any]:
        """The events of ``events`` that follow on from what this agent took before; each one
        after a missing record is kept back (never acknowledged) and its partition read again."""
        consumer = self.app.consumer
        if self.app.consumer_generation_id != self.generation:
            self.generation = self.app.consumer_generation_id
            self.next.clear()
            self.rereads.clear()
        taken, blocked = [], set()
        for event in events:
            message = event.message
            tp, offset = message.tp, message.offset
            if fetched_before(self.app, message):  # see current(); next offset unmoved
                keep_back(consumer, message)
                continue
            if tp not in blocked:
                nxt = self.next.get(tp, consumer._committed_offset.get(tp))
                if nxt is None:
                    # Between a revocation and the seek that ends the rebalance (no committed
                    # offset yet): a record from before it, of a partition that may have moved
                    # or whose records before it were dropped with the old generation's queues.
                    # Taken, it would move the patient's state past records the seek is about
                    # to deliver, which would then be skipped as processed. The seek reads it
                    # again, or its new owner does.
                    metrics.incr("delivery_kept_unsought")
                    log.warning(
                        "record %s of %s came before the seek to the committed offset; kept back", offset, tp
                    )
                    blocked.add(tp)
                elif offset <= nxt or self._real_gap(tp, nxt):
                    self.next[tp] = offset + 1
                    taken.append(event)
                    continue
                else:
                    blocked.add(tp)
                    await self._read_again(consumer, tp, nxt, offset)
            keep_back(consumer, message)
        return taken

    def _real_gap(self, tp: Any, nxt: int) -> bool:
        seen = self.rereads.get(tp)
        if seen is None or seen[0] != nxt or seen[2] < REREADS_BEFORE_GAP:
            return False
        log.error("offset %s of %s never came after %d re-reads; going on without it", nxt, tp, seen[2])
        self.rereads.pop(tp, None)
        return True

    async def _read_again(self, consumer: Any, tp: Any, nxt: int, got: int) -> None:
        now = time.monotonic()
        seen = self.rereads.get(tp)
        if seen is not None and seen[0] == nxt and now - seen[1] < REREAD_AFTER_S:
            return  # already being read again from there
        times = seen[2] + 1 if seen is not None and seen[0] == nxt else 1
        log.warning("record %s of %s missing before %s; reading the partition again from it", nxt, tp, got)
        metrics.incr("delivery_reread")
        self.rereads[tp] = (nxt, now, times)
        consumer._read_offset[tp] = nxt
        await consumer._seek(tp, nxt)


def observe_batch(events: Sequence[Any]) -> None:
    """The latency of a handled batch: its first record, from produced to handled."""
    if events and events[0].message.timestamp:
        metrics.observe_latency(events[0].message.topic, time.time() - events[0].message.timestamp)


DONE = object()  #: :func:`run_until_suspended`: the coroutine finished without suspending


def run_until_suspended(coro: Any) -> Any:
    """Run ``coro`` up to its first suspension: :data:`DONE` if it finished without one (its
    result is dropped), else what it yielded (hand both to :class:`Resumed` to finish it).

    The fetch loop delivers each record to the streams' queues through a coroutine that almost
    never waits (only when a queue is full or a rebalance holds the flow). Faust awaits every
    one of them inside ``wait_first`` (four tasks and an ``asyncio.wait`` per record, most of
    the loop's per-record cost); only the rare delivery that does suspend needs that.

    >>> async def quick():
    ...     return 1
    >>> run_until_suspended(quick()) is DONE
    True
    """
    try:
        return coro.send(None)
    except StopIteration:
        return DONE


class Resumed:
    """The rest of a coroutine that :func:`run_until_suspended` ran until it yielded ``first``:
    awaiting it (or a task made of it) finishes the coroutine, exactly as ``yield from`` would:
    what the task sends or throws in goes to the coroutine, its yields go up to the task."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Any, first: Any) -> None:
        self.coro, self.first = coro, first

    def __await__(self) -> Any:
        coro, step = self.coro, self.first
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as e:  # noqa: BLE001 - thrown in by the task (e.g. cancelled)
                try:
                    step = coro.throw(e)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    step = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def delivery_verdict(expected: int | None, offset: int) -> str:
    """What to do with a fetched record of a partition whose next record is ``expected``.

    ``"deliver"`` it (the next one); ``"drop"`` it (an offset already delivered, fetched again
    after a seek); ``"hold"`` it (it jumps ahead: it was fetched before a seek, and the records
    before it are still to come); ``"wait"`` (the partition has no position yet: it was just
    assigned and the seek to its committed offset has not happened, so the record may be one
    fetched long before; it is read again after the seek).

    >>> [delivery_verdict(10, o) for o in (9, 10, 11)]
    ['drop', 'deliver', 'hold']
    >>> delivery_verdict(None, 42)
    'wait'
    """
    if expected is None:
        return "wait"
    if offset == expected:
        return "deliver"
    return "drop" if offset < expected else "hold"


#: seconds a partition's commit may stay where it is while records exist past it and no agent
#: holds one of them (see :func:`unstall`). Nothing is in progress then (a record being handled,
#: or waiting for its state's checkpoint, is held), so this only bounds how late the records of
#: a stopped partition come after a rebalance: 30 s until stop 51, whose kill test saw 4-5 such
#: re-reads a run
STALL_S = 10.0

#: seconds after which a partition held up by an agent says once what holds it
HELD_REPORT_S = 30.0

#: seconds a partition's commit may stay where it is while an agent holds records of it (a sink
#: retrying through an InfluxDB outage, an agent waiting for the broker): after that the records
#: are read again all the same (at least once; seen once in CI: the last ECG record of a
#: partition held but never acknowledged after a worker kill)
HELD_STALL_S = 120.0


def commit_stalled(committed: int | None, acked: list[int], end: int | None) -> bool:
    """Whether a partition's commit cannot move on by itself: records exist from its next one
    (``committed``) on (``end``, the partition's end offset as far as this worker knows, is past
    it), and that next one is not acknowledged (``acked``, sorted, does not start with it), so
    nothing is waiting to be committed. Whatever the cause (a record dropped on its way to the
    agents, a partition the fetcher stopped reading, a record an agent holds), the partition
    has stopped; :func:`unstall` decides how long that may last.

    >>> commit_stalled(10, [], 14), commit_stalled(10, [11, 12], 14), commit_stalled(10, [10, 11], 14)
    (True, True, False)
    >>> commit_stalled(10, [], 10), commit_stalled(10, [], None), commit_stalled(None, [], 14)
    (False, False, False)
    """
    return (
        committed is not None
        and end is not None
        and end > committed
        and not (acked and acked[0] == committed)
    )


async def _broker_ends(consumer: Any, tps: list[Any]) -> dict[Any, int]:
    """The broker's end offsets of ``tps`` (one ListOffsets request). The end offset the fetcher
    knows is as old as its last fetch of a partition: one it stopped reading before its last
    records came shows nothing to read. Empty when there are none to ask about or the broker does
    not answer (a rebalance); the next check asks again."""
    if not tps:
        return {}
    try:
        ends = await consumer.highwaters(*tps)
    except Exception:  # noqa: BLE001 - a rebalance or a broker away: what the fetcher knows stands
        return {}
    return {tp: int(end) for tp, end in ends.items() if end is not None}


def _highwater(consumer: Any, tp: Any) -> int | None:
    """The end offset the fetcher last saw for ``tp`` (None when unknown, or when aiokafka's
    assignment has already moved on in a rebalance and refuses the question)."""
    try:
        hw = consumer.highwater(tp)
    except Exception:  # noqa: BLE001 - aiokafka asserts the partition is still assigned
        return None
    return None if hw is None else int(hw)


def held_report(consumer: Any, tp: Any, most: int = 8) -> str:
    """The records of ``tp`` that an agent holds unacknowledged, for a log line: the first
    ``most`` as ``offset(refs=N)``, and the partition's acknowledged offsets waiting to be
    committed and the fetch loop's next offset.

    >>> from types import SimpleNamespace as NS
    >>> m = NS(tp="t0", offset=7, refcount=1, acked=False)
    >>> held_report(NS(_unacked_messages=[m], _acked={"t0": [8, 9]}, _read_offset={"t0": 10}), "t0")
    'held [7(refs=1)], acked [8, 9], next 10'
    """
    msgs = sorted((m for m in list(consumer._unacked_messages) if m.tp == tp), key=lambda m: m.offset)
    held = ", ".join(f"{m.offset}(refs={m.refcount}{', acked' if m.acked else ''})" for m in msgs[:most])
    more = f" and {len(msgs) - most} more" if len(msgs) > most else ""
    acked = sorted(consumer._acked.get(tp) or ())
    return f"held [{held}{more}], acked {acked[:most]}, next {consumer._read_offset.get(tp)}"


async def unstall(consumer: Any, now: float, seen: dict[Any, tuple[int, float, bool]]) -> list[Any]:
    """The safety net under fixes 1 and 6 and :class:`InOrder`: a partition whose commit has not
    moved for :data:`STALL_S` while records exist past it (:func:`commit_stalled`) and no agent
    holds any of them is read again from its committed offset (and resumed, should Faust have
    left it paused: only the next rebalance would lift that); one whose records an agent holds
    is read again after :data:`HELD_STALL_S`. What the agents already took in is recognised by
    their states (the offset each state records) and only acknowledged. Returns the partitions
    read again. Acts only while the flow runs and no recovery does (Faust holds partitions back
    then), and the wait starts again after.

    One invariant instead of the kinds of stall seen one by one (a record dropped before later
    ones were acknowledged, the last records handed on and dropped, a partition the fetcher
    stopped reading): the kill test of stop 51 lost ``alerts.ack`` records to a kind that none
    of those checks saw. Where the fetcher's end offset shows nothing past the commit, the
    broker's is asked (:func:`_broker_ends`). Each re-read logs what held the partition
    (:func:`held_report`), the next diagnosis's starting point.

    ``seen``: per partition, the stalled offset, since when, and whether the wait of a held
    partition has been logged (kept between calls)."""
    if not consumer.flow_active or consumer.app.in_recovery:
        seen.clear()
        return []
    acks_enabled_for = consumer.app.topics.acks_enabled_for
    committed_at = consumer._committed_offset
    # an agent holds a record of the partition at or past its committed offset (one below it is
    # a leftover the commit has passed: it holds nothing up, and must not hide a stall)
    held = {
        m.tp
        for m in list(consumer._unacked_messages)
        if committed_at.get(m.tp) is None or m.offset >= committed_at[m.tp]
    }
    tps = [tp for tp in list(consumer.assignment()) if acks_enabled_for(tp.topic)]
    for tp in seen.keys() - set(tps):  # changelogs and partitions gone: nothing to re-read
        seen.pop(tp, None)
    # records exist up to the fetcher's end offset, and up to what the fetch loop handed on
    known = {tp: max(_highwater(consumer, tp) or 0, consumer._read_offset.get(tp) or 0) for tp in tps}
    ask = [tp for tp in tps if committed_at.get(tp) is not None and known[tp] <= committed_at[tp]]
    ends = known | await _broker_ends(consumer, ask)
    active = getattr(consumer, "_active_partitions", None)  # what Faust's getmany asks for
    again = []
    for tp in tps:
        committed = committed_at.get(tp)
        acked = sorted(consumer._acked.get(tp) or ())
        if not commit_stalled(committed, acked, ends.get(tp)):
            seen.pop(tp, None)
            continue
        first = seen.get(tp)
        if first is None or first[0] != committed:
            seen[tp] = (committed, now, False)
            continue
        waited = now - first[1]
        if tp in held and not first[2] and waited >= HELD_REPORT_S:
            seen[tp] = (committed, first[1], True)
            log.warning(
                "record %s of %s not committed for %.0f s while an agent holds records of it: %s",
                committed,
                tp,
                waited,
                held_report(consumer, tp),
            )
        if waited >= (HELD_STALL_S if tp in held else STALL_S):
            paused = active is not None and tp not in active
            log.warning(
                "record %s of %s not committed for %.0f s, records up to %s on the broker%s: %s; "
                "reading it again",
                committed,
                tp,
                waited,
                ends[tp],
                " (the partition was not being fetched)" if paused else "",
                held_report(consumer, tp),
            )
            metrics.incr("delivery_stall_reread")
            if paused or active is None:
                consumer.resume_partitions({tp})
            consumer._read_offset[tp] = committed
            await consumer._seek(tp, committed)
            seen.pop(tp, None)
            again.append(tp)
    return again


def committable_run(committed: int | None, acked: list[int]) -> int:
    """How many of the sorted ``acked`` offsets may be committed: the run of consecutive
    offsets that starts at the ``committed`` offset (the next record to process). With no
    committed offset the partition is between a revocation and its next seek (every assigned
    partition gets one there, see :func:`_perform_seek`): acknowledgements then come from a
    batch of the previous assignment and nothing is committed. Offsets below ``committed``
    must be removed first.

    >>> committable_run(10, [10, 11, 12, 14])
    3
    >>> committable_run(10, [11, 12])   # record 10 is still being processed: commit nothing
    0
    >>> committable_run(0, [1, 2])
    0
    >>> committable_run(None, [5, 6, 8])
    0
    """
    if not acked or committed is None or acked[0] != committed:
        return 0
    n = 1
    while n < len(acked) and acked[n] == acked[n - 1] + 1:
        n += 1
    return n


def _new_offset(self: Any, tp: Any) -> int | None:
    """Faust ``Consumer._new_offset``: the offset to commit for ``tp`` or None (fix 2)."""
    acked: list[int] = self._acked[tp]
    if not acked:
        return None
    gaps = self._gap.get(tp)
    if gaps:  # offsets that do not exist (a real gap, see _drain_messages): count as processed
        top = max(acked)
        for iv in sorted(gaps.overlap(0, top + 1), key=lambda iv: iv.begin):
            acked.extend(range(iv.begin, iv.end))
        gaps.chop(0, top + 1)
    acked.sort()
    committed = self._committed_offset[tp]
    if committed is not None:
        stale = bisect_left(acked, committed)
        if stale:
            self._acked_index[tp].difference_update(acked[:stale])
            del acked[:stale]
    n = committable_run(committed, acked)
    if n == 0:
        return None
    batch = acked[:n]
    del acked[:n]
    self._acked_index[tp].difference_update(batch)
    return batch[-1] + 1


async def _drain_messages(self: Any, fetcher: Any) -> None:  # noqa: C901, PLR0912, PLR0915
    """Faust ``Consumer._drain_messages`` (the fetch loop that hands records to the streams),
    with the read position of every acknowledged topic kept as *the next offset to deliver*
    and :func:`delivery_verdict` applied to each record (fix 1). Adapted from faust-streaming
    0.15.3 ``faust/transport/consumer.py`` (BSD-3-Clause); the rest is unchanged."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    expected = self._read_offset  # perform_seek/seek set it to the committed (next) offset
    app = self.app

    flow_control_active = app.flow_control.is_active

    def stale(message: Any) -> bool:
        generation = getattr(message, "generation_id", None)
        return generation is not None and generation != app.consumer_generation_id

    held: dict[Any, tuple[int, int, int]] = self.__dict__.setdefault("_ww_held", {})
    set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every, since_yield, batch_no = 100, 0, 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(faust_consumer.CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            batch_no += 1
            await self.sleep(0)
            sought = _SoughtSince(self)
            if not self.should_stop:
                blocked: set[Any] = set()  # partitions to read again from their next offset
                traced: set[Any] = set()
                async for tp, message in ait:
                    since_yield += 1
                    if since_yield > yield_every:
                        await asyncio.sleep(0)
                        since_yield = 0
                    offset = message.offset
                    if sought.since_fetch(tp):
                        if TRACE:
                            log.info("trace dropped %s/%s %s: sought since", tp.topic, tp.partition, offset)
                        continue  # fetched before a seek of its partition, which reads it again (fix 8)
                    nxt = expected[tp]
                    if acks_enabled_for(message.topic):
                        if tp in blocked:
                            continue
                        if nxt is not None and (stale(message) or not flow_control_active()):
                            # The streams skip, unacknowledged, a record fetched in an earlier
                            # consumer generation or taken while the app's flow is stopped
                            # (between a rebalance's seek and the end of its recovery). Counted
                            # as delivered it is a gap (fix 6); worse, the records after it are
                            # processed, and when it is read again the patient's state is past
                            # it ("already processed"): lost. Read the partition again from here.
                            blocked.add(tp)
                            continue
                        verdict = delivery_verdict(nxt, offset)
                        if verdict == "hold":
                            prev = held.get(tp)
                            rereads = prev[2] + (prev[1] != batch_no) if prev and prev[0] == nxt else 0
                            if rereads < REAL_GAP_AFTER_REREADS:
                                if prev is None or prev[0] != nxt:
                                    log.warning(
                                        "record fetched before a seek held back; reading "
                                        "%s again from offset %s (got %s)",
                                        tp,
                                        nxt,
                                        offset,
                                    )
                                    await self._seek(tp, nxt)
                                held[tp] = (nxt, batch_no, rereads)
                                continue
                            log.error(
                                "offsets %s-%s of %s do not exist; going on at %s",
                                nxt,
                                offset - 1,
                                tp,
                                offset,
                            )
                            self._gap[tp].addi(nxt, offset)
                            verdict = "deliver"
                        held.pop(tp, None)
                        if verdict in ("drop", "wait"):
                            continue
                    elif nxt is not None and offset < nxt:
                        _dropped_below(tp, offset, nxt)
                        continue  # Faust's own rule for topics without acks (changelogs)
                    elif TRACE and tp not in traced:
                        traced.add(tp)
                        log.info("trace delivering %s/%s from %s", tp.topic, tp.partition, offset)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    delivery = callback(message)
                    first = run_until_suspended(delivery)
                    if first is DONE:  # delivered without waiting (nearly always)
                        if not sought.since_fetch(tp):  # a seek's read position stands (fix 8)
                            expected[tp] = offset + 1
                        continue
                    rest = Resumed(delivery, first)
                    res = await self.wait_first(rest, self.suspend_flow.wait())
                    # not delivered when a rebalance suspended the flow; delivered, a seek made
                    # while it waited keeps its read position (fix 8)
                    if rest in res.done and not sought.since_fetch(tp):
                        expected[tp] = offset + 1
                for tp in blocked:
                    if expected[tp] is not None:
                        await self._seek(tp, expected[tp])
                if blocked:
                    await asyncio.sleep(0.05)  # until the flow resumes (or a rebalance seeks)
                unset_flag(faust_consumer.CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(faust_consumer.CONSUMER_FETCHING)


class _SoughtSince:
    """Whether a partition has been sought since the fetch loop's batch was fetched (fix 8).
    Reads the counts the batch was fetched under when its first record is checked: ``getmany``
    fetches when first iterated, :func:`_fetch_records` notes them then, and no other fetch
    runs until the batch is done."""

    __slots__ = ("_consumer", "_now", "_then")

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer
        self._now: Mapping[Any, int] | None = None
        self._then: Mapping[Any, int] = {}

    def since_fetch(self, tp: Any) -> bool:
        if self._now is None:
            d = self._consumer.__dict__
            self._now = d.get("_ww_seeks", {})  # live: the fetcher's own, updated by each seek
            self._then = d.get("_ww_fetched", {})
        return self._now.get(tp, 0) != self._then.get(tp, 0)


def _seek_counts(fetcher: Any) -> dict[Any, int]:
    counts: dict[Any, int] = fetcher.__dict__.setdefault("_ww_seeks", {})
    return counts


def _count_seeks(fetcher: Any, tps: Any) -> None:
    counts = _seek_counts(fetcher)
    for tp in tps:
        counts[tp] = counts.get(tp, 0) + 1


def _fetcher_seek_to(self: Any, tp: Any, offset: int) -> None:
    """aiokafka ``Fetcher.seek_to``, counted (fix 8)."""
    _count_seeks(self, (tp,))
    if TRACE:
        thread = threading.current_thread().name
        log.info("trace seek %s/%s -> %s (%s)", tp.topic, tp.partition, offset, thread)
    AIOKAFKA_ORIGINALS["Fetcher.seek_to"](self, tp, offset)


def _fetcher_request_offset_reset(self: Any, tps: Any, strategy: Any) -> Any:
    """aiokafka ``Fetcher.request_offset_reset`` (the seek to the first or the last offset),
    counted (fix 8)."""
    _count_seeks(self, tps)
    if TRACE:
        log.info("trace reset %s -> %s", sorted(f"{tp.topic}/{tp.partition}" for tp in tps), strategy)
    return AIOKAFKA_ORIGINALS["Fetcher.request_offset_reset"](self, tps, strategy)


async def _fetch_records(
    self: Any,
    consumer: Any,
    active_partitions: Any,
    timeout: float | None = None,
    max_records: int | None = None,
) -> Any:
    """Faust ``AIOKafkaConsumerThread._fetch_records`` (in the consumer's thread), noting the
    seek counts the records were fetched under (fix 8): the fetcher returns them synchronously,
    so no seek of this thread falls between the fetch and the note."""
    records = await FAUST_ORIGINALS["AIOKafkaConsumerThread._fetch_records"](
        self, consumer, active_partitions, timeout=timeout, max_records=max_records
    )
    counts = _seek_counts(consumer._fetcher)
    self.consumer._ww_seeks = counts
    self.consumer._ww_fetched = {tp: counts.get(tp, 0) for tp in records}
    if TRACE:
        for tp, recs in records.items():
            if tp.topic.endswith("-changelog") and recs:
                log.info("trace fetched %s/%s %s-%s", tp.topic, tp.partition, recs[0].offset, recs[-1].offset)
    return records


async def _getmany(self: Any, timeout: float) -> Any:
    """Faust ``Consumer.getmany``, except that the records of a topic without acks (a changelog)
    that it drops when the flow stops or the generation changes mid-batch are read again (fix 9).
    Adapted from faust-streaming 0.15.3 ``faust/transport/consumer.py`` (BSD-3-Clause)."""
    records, active_partitions = await self._wait_next_records(timeout)
    generation_id = self.app.consumer_generation_id
    if records is None or self.should_stop:
        return
    handed: dict[Any, int] = {}  # per partition, the last offset handed on
    if self.flow_active:
        to_message = self._to_message
        for tp, record in self.scheduler.iterate(records):
            if not self.flow_active or self.app.consumer_generation_id != generation_id:
                break
            if active_partitions is None or tp in active_partitions or tp in self._buffered_partitions:
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                handed[tp] = record.offset
                yield tp, to_message(tp, record)
        else:
            return
    else:
        try:  # Faust's own recovery of the input topics
            await self.perform_seek()
        except Exception as exc:  # noqa: BLE001 - as Faust: a failed seek is a log line
            log.warning("exception performing seek when flow not active %r", exc)
    await _reread_dropped_changelogs(self, records, handed)


async def _reread_dropped_changelogs(
    self: Any, records: Mapping[Any, Any], handed: Mapping[Any, int]
) -> None:
    """Seek each changelog partition of ``records`` back to its first record not handed on
    (fix 9), unless it was sought since the fetch."""
    fetched_under = self.__dict__.get("_ww_fetched", {})
    acks_enabled_for = self.app.topics.acks_enabled_for
    for tp, recs in records.items():
        if not recs or acks_enabled_for(tp.topic):
            continue
        last = handed.get(tp)
        first = next((r.offset for r in recs if last is None or r.offset > last), None)
        if first is None:
            continue
        thread = self._thread
        if await thread.call_thread(_seek_unless_sought, thread, tp, first, fetched_under.get(tp, 0)):
            metrics.incr("delivery_changelog_reread")
            log.warning(
                "changelog records %s-%s of %s fetched but dropped (the flow stopped); reading them again",
                first,
                recs[-1].offset,
                tp,
            )


def _seek_unless_sought(thread: Any, tp: Any, offset: int, count: int) -> bool:
    """In the consumer's thread: seek ``tp`` to ``offset`` if it is still assigned and its seek
    count is still ``count`` (nothing sought it since the fetch). Whether it did."""
    consumer = thread._ensure_consumer()
    if _seek_counts(consumer._fetcher).get(tp, 0) != count:
        return False
    return _seek_if_assigned(thread, tp, offset)


def _seek_if_assigned(thread: Any, tp: Any, offset: int) -> bool:
    """In the consumer's thread: seek ``tp`` to ``offset`` if it is still assigned. A rebalance
    may have moved it since the seek was decided on (aiokafka would raise, and the fetch loop's
    error crash the worker); its next owner reads it from the committed offset."""
    consumer = thread._ensure_consumer()
    if tp not in consumer.assignment():
        log.info("seek of %s to %s skipped: the partition moved in a rebalance", tp, offset)
        return False
    consumer.seek(tp, offset)
    return True


async def _seek_in_thread(self: Any, partition: Any, offset: int) -> None:
    """Faust ``ThreadDelegateConsumer._seek``, run in the consumer's thread instead of calling
    aiokafka from this one (there it cannot fall between a fetch and its seek count, fix 8),
    and only while the partition is assigned."""
    await self._thread.call_thread(_seek_if_assigned, self._thread, partition, offset)


_DROPPED_BELOW: dict[Any, int] = {}


def _dropped_below(tp: Any, offset: int, nxt: int) -> None:
    """Log, once per read position, that a record of a topic without acks (a changelog) was not
    delivered because the position is past it. Expected never: the read position a recovery
    sets is overwritten only by a record fetched before its seek, which fix 8 drops; if that
    ever happens again, every record the recovery reads again lands here (and it waits for
    them: the hang of stop 39)."""
    if _DROPPED_BELOW.get(tp) != nxt:
        _DROPPED_BELOW[tp] = nxt
        log.warning("record %s of %s not delivered: the read position is already %s", offset, tp, nxt)


_faust_perform_seek = faust_consumer.Consumer.perform_seek


async def _perform_seek(self: Any) -> None:
    """Faust ``Consumer.perform_seek`` (after every assignment): to the committed offsets, and
    a partition of an acknowledged topic that has none from its first offset (fix 3)."""
    await _faust_perform_seek(self)
    acks_enabled_for = self.app.topics.acks_enabled_for
    log.info(
        "input positions after the seek: %s; other positions set: %s",
        {
            f"{tp.topic}/{tp.partition}": o
            for tp, o in self._read_offset.items()
            if acks_enabled_for(tp.topic)
        },
        {
            f"{tp.topic}/{tp.partition}": o
            for tp, o in self._read_offset.items()
            if o is not None and not acks_enabled_for(tp.topic)
        },
    )
    fresh = [
        tp
        for tp in self.assignment()
        if self._committed_offset.get(tp) is None and acks_enabled_for(tp.topic)
    ]
    if not fresh:
        return
    starts = await self.earliest_offsets(*fresh)
    for tp in fresh:
        first = int(starts.get(tp) or 0)
        await self._seek(tp, first)
        self._read_offset[tp] = first
        self._committed_offset[tp] = first


async def _buffer_flush(self: Any) -> None:
    """Faust ``ProducerBuffer.flush``: wait until every buffered message is handed to the
    Kafka client, however long that takes (fix 4)."""
    while self.size:
        if self.state != "running":
            raise RuntimeError("Cannot flush: Producer not Running")
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
        except TimeoutError:
            continue


async def _commit_assigned(self: Any, offsets: Any) -> bool:
    """Faust ``AIOKafkaConsumerThread._commit``, except that a commit none of whose partitions
    is still assigned does nothing instead of crashing the worker (fix 5). Runs in the consumer
    thread's loop: the assignment read here is the one the original then filters by."""
    assigned = self.assignment()
    if not any(tp in assigned for tp in offsets):
        log.info("commit skipped: its partitions moved in a rebalance (%d offsets)", len(offsets))
        return False
    return bool(await FAUST_ORIGINALS["AIOKafkaConsumerThread._commit"](self, offsets))


def _ack_taken(self: Any, message: Any) -> bool:
    """Faust ``Consumer.ack``, except that a record of an acknowledged topic that no stream took
    in (the streams' skip, fix 7) is not acknowledged: it stays the commit's head until it is
    read again and processed."""
    if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
        metrics.incr("delivery_skip_not_acked")
        return False
    return bool(FAUST_ORIGINALS["Consumer.ack"](self, message))


_PATCHES: list[tuple[Any, str, Callable[..., Any]]] = [
    (faust_consumer.Consumer, "ack", _ack_taken),
    (faust_consumer.Consumer, "_new_offset", _new_offset),
    (faust_consumer.Consumer, "_drain_messages", _drain_messages),
    (faust_consumer.Consumer, "perform_seek", _perform_seek),
    (faust_consumer.Consumer, "getmany", _getmany),
    (faust_producer.ProducerBuffer, "flush", _buffer_flush),
    (faust_aiokafka.AIOKafkaConsumerThread, "_commit", _commit_assigned),
    (faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", _fetch_records),
    (faust_consumer.ThreadDelegateConsumer, "_seek", _seek_in_thread),
]
_AIOKAFKA_PATCHES: list[tuple[Any, str, Callable[..., Any]]] = [
    (aiokafka_fetcher.Fetcher, "seek_to", _fetcher_seek_to),
    (aiokafka_fetcher.Fetcher, "request_offset_reset", _fetcher_request_offset_reset),
]


#: Faust's own methods, kept for the tests that show what each fix changes
FAUST_ORIGINALS: dict[str, Callable[..., Any]] = {
    f"{cls.__name__}.{name}": getattr(cls, name) for cls, name, _ in _PATCHES
}
#: aiokafka's own methods (fix 8 counts the seeks of its fetcher)
AIOKAFKA_ORIGINALS: dict[str, Callable[..., Any]] = {
    f"{cls.__name__}.{name}": getattr(cls, name) for cls, name, _ in _AIOKAFKA_PATCHES
}


def install() -> None:
    """Apply the fixes to Faust's classes (idempotent). Refuses another Faust version: each fix
    replaces a method of 0.15.3 and must be re-checked against a new one."""
    if faust.__version__ != FAUST_VERSION:
        raise RuntimeError(
            f"streams.delivery fixes faust-streaming {FAUST_VERSION}, found "
            f"{faust.__version__}: re-check each fix against the new version"
        )
    if aiokafka.__version__ != AIOKAFKA_VERSION:
        raise RuntimeError(
            f"streams.delivery counts the seeks of aiokafka {AIOKAFKA_VERSION}'s fetcher, found "
            f"{aiokafka.__version__}: re-check fix 8 against the new version"
        )
    for cls, name, fn in (*_PATCHES, *_AIOKAFKA_PATCHES):
        setattr(cls, name, fn)


def installed() -> bool:
    return all(getattr(cls, name) is fn for cls, name, fn in (*_PATCHES, *_AIOKAFKA_PATCHES))
