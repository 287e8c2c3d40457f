"""The at-least-once fixes of ``streams/delivery.py`` on Faust's own consumer and producer
buffer objects (no broker): each test fails with Faust's original method."""

from __future__ import annotations

import asyncio

import pytest
from faust.transport.producer import ProducerBuffer
from faust.types import TP

from streams import delivery
from streams.app import app
from streams.delivery import FAUST_ORIGINALS, committable_run, delivery_verdict

VITALS0 = TP("vitals", 0)


@pytest.fixture
def consumer():
    c = app.consumer
    for d in (c._acked, c._acked_index, c._committed_offset, c._gap, c._read_offset):
        d.clear()
    yield c
    for d in (c._acked, c._acked_index, c._committed_offset, c._gap, c._read_offset):
        d.clear()


def ack(c, *offsets: int) -> None:
    for o in offsets:
        c._acked[VITALS0].append(o)
        c._acked_index[VITALS0].add(o)


def test_installed_with_the_app():
    assert delivery.installed()


def test_no_commit_past_a_record_still_being_processed(consumer):
    """Record 10 is in flight, 11-13 are done: nothing may be committed (Faust: 14)."""
    consumer._committed_offset[VITALS0] = 10
    ack(consumer, 11, 12, 13)
    assert consumer._new_offset(VITALS0) is None
    ack(consumer, 10)
    assert consumer._new_offset(VITALS0) == 14
    consumer._acked[VITALS0][:] = []


def test_faust_original_commits_past_the_in_flight_record(consumer):
    consumer._committed_offset[VITALS0] = 10
    ack(consumer, 11, 12, 13)
    assert FAUST_ORIGINALS["Consumer._new_offset"](consumer, VITALS0) == 14  # record 10 lost


def test_committed_zero_is_a_head_too(consumer):
    consumer._committed_offset[VITALS0] = 0
    ack(consumer, 1, 2)
    assert consumer._new_offset(VITALS0) is None
    assert FAUST_ORIGINALS["Consumer._new_offset"](consumer, VITALS0) == 3


def test_acks_below_the_committed_offset_are_dropped(consumer):
    consumer._committed_offset[VITALS0] = 5
    ack(consumer, 3, 4, 5, 6)
    assert consumer._new_offset(VITALS0) == 7
    assert consumer._acked[VITALS0] == [] and not consumer._acked_index[VITALS0]


def test_a_known_gap_counts_as_processed(consumer):
    consumer._committed_offset[VITALS0] = 5
    consumer._gap[VITALS0].addi(5, 8)  # offsets 5-7 do not exist
    ack(consumer, 8, 9)
    assert consumer._new_offset(VITALS0) == 10


@pytest.mark.parametrize(
    ("expected", "offset", "verdict"),
    [(None, 7, "wait"), (7, 7, "deliver"), (7, 6, "drop"), (7, 8, "hold"), (0, 5, "hold")],
)
def test_delivery_verdict(expected, offset, verdict):
    assert delivery_verdict(expected, offset) == verdict


def test_committable_run_starts_at_the_head():
    assert committable_run(3, [3, 4, 6]) == 2
    assert committable_run(3, [4, 5]) == 0
    assert committable_run(None, [4, 5]) == 0  # between a revocation and the next seek
    assert committable_run(3, []) == 0


class _Buffer:
    """A stand-in for Faust's ProducerBuffer state: messages leave it slowly (0.15 s apart)."""

    state = "running"
    flush_atmost = ProducerBuffer.flush_atmost  # Faust's own (used by its original flush)

    def __init__(self, n: int):
        self.size = n
        self.message_sent = asyncio.Event()

    async def drain(self) -> None:
        while self.size:
            await asyncio.sleep(0.15)
            self.size -= 1
            self.message_sent.set()


@pytest.mark.parametrize(
    ("flush", "left"), [(delivery._buffer_flush, 0), (FAUST_ORIGINALS["ProducerBuffer.flush"], 3)]
)
def test_flush_waits_until_the_buffer_is_empty(flush, left):
    """Faust's flush returns while 3 messages are still buffered (a commit would follow)."""

    async def run() -> int:
        buf = _Buffer(3)
        drain = asyncio.ensure_future(buf.drain())
        await flush(buf)
        size = buf.size
        await drain
        return size

    assert asyncio.run(run()) == left


class _ConsumerThread:
    """The parts of Faust's ``AIOKafkaConsumerThread`` its ``_commit`` touches."""

    def __init__(self, assigned: set[TP]):
        self.assigned = assigned
        self.committed: list[dict] = []
        self.tp_last_committed_at: dict = {}
        self.crashed: list[BaseException] = []
        self.log = self

    def assignment(self) -> set[TP]:
        return self.assigned

    def _ensure_consumer(self):
        thread = self

        class _Client:
            async def commit(self, offsets):
                if not offsets:  # what aiokafka does with an empty dict
                    raise ValueError(offsets)
                thread.committed.append({(tp.topic, tp.partition): m.offset for tp, m in offsets.items()})

        return _Client()

    async def crash(self, exc: BaseException) -> None:
        self.crashed.append(exc)

    def exception(self, *args) -> None:
        pass


def test_a_commit_whose_partitions_moved_does_not_crash_the_worker():
    moved = _ConsumerThread(assigned={TP("ecg", 1)})
    assert asyncio.run(delivery._commit_assigned(moved, {TP("vitals", 0): 42})) is False
    assert moved.committed == [] and moved.crashed == []
    # Faust's own _commit hands aiokafka the empty dict, and crashes
    original = FAUST_ORIGINALS["AIOKafkaConsumerThread._commit"]
    assert asyncio.run(original(moved, {TP("vitals", 0): 42})) is False
    assert [type(e) for e in moved.crashed] == [ValueError]


def test_a_commit_of_assigned_partitions_goes_through():
    thread = _ConsumerThread(assigned={TP("vitals", 0)})
    assert asyncio.run(delivery._commit_assigned(thread, {TP("vitals", 0): 42, TP("ecg", 3): 7})) is True
    assert thread.committed == [{("vitals", 0): 42}] and thread.crashed == []


class _Flow:
    def __init__(self, active: bool):
        self.active = active

    def is_active(self) -> bool:
        return self.active


class _FetchLoop:
    """What ``_drain_messages`` uses of Faust's consumer: ``getmany`` hands out the queued
    fetches (one per call; the loop stops when none is left), ``callback`` records deliveries,
    ``_seek`` records seeks (and, as aiokafka does, makes the next fetch start there)."""

    def __init__(self, fetches, flow_active: bool = True, generation: int = 1, acks: bool = True):
        from types import SimpleNamespace

        self.fetches = list(fetches)
        self.delivered: list[int] = []
        self.seeks: list[tuple[TP, int]] = []
        self._read_offset = {VITALS0: 5}
        self.flow = _Flow(flow_active)
        self.app = SimpleNamespace(
            consumer_generation_id=generation,
            flow_control=self.flow,
            topics=SimpleNamespace(acks_enabled_for=lambda topic: acks),
        )
        # fix 8: the fetcher's seek counts, and what each fetch was fetched under
        self._ww_seeks: dict[TP, int] = {}
        self.on_delivery = lambda offset: None  # what else happens once a record is delivered
        self._stopped = asyncio.Event()
        self.diag = SimpleNamespace(set_flag=lambda f: None, unset_flag=lambda f: None)
        self._commit_every, self._n_acked, self._gap = None, 0, {}
        self.should_stop = False
        self.suspend_flow = asyncio.Event()
        self.consumer_stopped_errors = ()

    def getmany(self, timeout: float):
        fetch = self.fetches.pop(0)
        if not self.fetches:
            self._stopped.set()

        async def records():
            self._ww_fetched = {VITALS0: self._ww_seeks.get(VITALS0, 0)}  # as _fetch_records notes
            for offset, generation in fetch:
                yield VITALS0, _Message(offset, generation)

        return records()

    async def sleep(self, s: float) -> None:
        await asyncio.sleep(0)

    def seek(self, tp: TP, offset: int | None) -> None:
        """A seek as aiokafka's fetcher counts it (fix 8), with the read position the seeker sets."""
        self._ww_seeks[tp] = self._ww_seeks.get(tp, 0) + 1
        self._read_offset[tp] = offset

    async def _seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def callback(self, message) -> None:
        self.delivered.append(message.offset)
        self.on_delivery(message.offset)


class _Message:
    topic = "vitals"

    def __init__(self, offset: int, generation: int):
        self.offset, self.generation_id = offset, generation


def _drain(loop: _FetchLoop) -> None:
    from types import SimpleNamespace

    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    asyncio.run(delivery._drain_messages(loop, fetcher))


def test_records_are_not_delivered_while_the_apps_flow_is_stopped():
    """Between a rebalance's seek and the end of its recovery the streams skip what they are
    given (unacknowledged): the loop keeps such records back and reads them again (fix 6)."""
    loop = _FetchLoop([[(5, 1), (6, 1), (7, 1)]], flow_active=False)
    _drain(loop)
    assert loop.delivered == [] and loop.seeks == [(VITALS0, 5)] and loop._read_offset[VITALS0] == 5
    loop = _FetchLoop([[(5, 1), (6, 1)], [(5, 1), (6, 1), (7, 1)]], flow_active=False)
    fetch = loop.getmany

    def resume_after_first(timeout: float):
        records = fetch(timeout)
        loop.flow.active = len(loop.fetches) == 0  # the second fetch finds the flow running
        return records

    loop.getmany = resume_after_first  # type: ignore[method-assign]
    _drain(loop)
    assert loop.delivered == [5, 6, 7] and loop._read_offset[VITALS0] == 8


def test_a_record_of_an_earlier_generation_is_read_again():
    loop = _FetchLoop([[(5, 0), (6, 0)], [(5, 1), (6, 1)]])
    _drain(loop)
    assert loop.delivered == [5, 6] and loop.seeks == [(VITALS0, 5)]


@pytest.mark.parametrize("acks", [False, True], ids=["changelog", "input"])
def test_a_record_fetched_before_a_seek_is_not_delivered_after_it(acks):
    """The table recovery seeks a changelog partition back to 0 (``seek_wait``: read position
    unset) while the fetch loop is still working through a batch it fetched before: the rest
    of that batch (101, 102) is dropped, not delivered, and the records the seek reads again
    are all delivered, in order. Delivered, 102 would move the read position past 0-101 and the
    loop would drop each of them as already read: the recovery never gets them (fix 8). An
    input partition sought back (a rebalance's seek to the committed offset) likewise."""
    loop = _FetchLoop([[(100, 1), (101, 1), (102, 1)], [(0, 1), (1, 1), (2, 1)]], acks=acks)
    loop._read_offset = {VITALS0: 100}
    loop.on_delivery = lambda offset: loop.seek(VITALS0, 0 if acks else None) if offset == 100 else None
    _drain(loop)
    assert loop.delivered == [100, 0, 1, 2] and loop._read_offset[VITALS0] == 3


def test_a_record_is_delivered_when_its_partition_was_not_sought_since_its_fetch():
    """Seeks before a fetch (and of other partitions) hold nothing back."""
    loop = _FetchLoop([[(5, 1), (6, 1)], [(7, 1)]])
    loop.seek(VITALS0, 5)
    loop.seek(VITALS0, 5)
    loop.on_delivery = lambda offset: loop.seek(TP("vitals", 1), 0) if offset == 5 else None
    _drain(loop)
    assert loop.delivered == [5, 6, 7]


def test_seeks_are_counted_where_aiokafka_seeks():
    """Every seek of aiokafka's fetcher is counted per partition: a seek to an offset and a seek
    to the first or last one (fix 8)."""
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.structs import TopicPartition

    fetcher = Fetcher.__new__(Fetcher)  # only what the two methods use
    calls: list[str] = []
    assignment = type(
        "A",
        (),
        {
            "state_value": lambda self, tp: type(
                "S",
                (),
                {
                    "await_reset": lambda self, strategy: calls.append("reset"),
                    "wait_for_position": lambda self: asyncio.sleep(0),
                },
            )()
        },
    )()
    fetcher._subscriptions = type(
        "Subs",
        (),
        {
            "seek": lambda self, tp, offset: calls.append("seek"),
            "subscription": type("Sub", (), {"assignment": assignment})(),
        },
    )()
    fetcher._records = {}
    fetcher._notify = lambda fut: None
    fetcher._wait_consume_future = None
    tp0, tp1 = TopicPartition("vitals", 0), TopicPartition("vitals", 1)

    async def seeks() -> None:
        fetcher.seek_to(tp0, 7)
        fetcher.seek_to(tp0, 9)
        await fetcher.request_offset_reset([tp1], "earliest")

    asyncio.run(seeks())
    assert fetcher._ww_seeks == {tp0: 2, tp1: 1} and calls == ["seek", "seek", "reset"]
    assert fetcher._ww_seeks[VITALS0] == 2  # Faust's TP finds aiokafka's TopicPartition's count


class _Consumer:
    def __init__(self, committed: dict[TP, int]):
        self._committed_offset = dict(committed)
        self._read_offset: dict[TP, int] = {}
        self._unacked_messages: set = set()
        self.seeks: list[tuple[TP, int]] = []
        self.fetched_ends: dict[TP, int] = {}  # the end offset of each partition's last fetch
        self.broker_ends: dict[TP, int] = {}  # the broker's, asked for (ListOffsets)
        self.asked_ends: list[set[TP]] = []
        self.flow_active = True
        self.resumed: list[TP] = []

    async def _seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    def highwater(self, tp: TP) -> int | None:
        return self.fetched_ends.get(tp)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.asked_ends.append(set(tps))
        return {tp: self.broker_ends[tp] for tp in tps if tp in self.broker_ends}

    def resume_partitions(self, tps) -> None:
        self.resumed.extend(tps)


class _Msg:
    def __init__(self, tp: TP, offset: int):
        self.tp, self.offset, self.refcount = tp, offset, 1
        self.timestamp, self.acked = None, False

    def incref(self, n: int = 1) -> None:
        self.refcount += n

    def __hash__(self) -> int:
        return hash((self.tp, self.offset, id(self)))


def _events(*offsets: int, tp: TP = VITALS0) -> list:
    from types import SimpleNamespace

    return [SimpleNamespace(message=_Msg(tp, o)) for o in offsets]


def test_an_agent_takes_a_partitions_records_only_in_order():
    """Record 11 never reached the agent: 12 and 13 are kept back (their acknowledgement by the
    stream cannot reach zero) and the partition is read again from 11, once; the other
    partition goes on; re-delivered and backward offsets (after a seek) are taken."""
    from types import SimpleNamespace

    vitals1 = TP("vitals", 1)
    consumer = _Consumer({VITALS0: 10, vitals1: 0})
    in_order = delivery.InOrder(SimpleNamespace(consumer=consumer, consumer_generation_id=3))
    first = asyncio.run(in_order.admit(_events(10, 12, 13) + _events(0, 1, tp=vitals1)))
    assert [(e.message.tp, e.message.offset) for e in first] == [(VITALS0, 10), (vitals1, 0), (vitals1, 1)]
    assert consumer.seeks == [(VITALS0, 11)] and consumer._read_offset[VITALS0] == 11
    kept_back = _events(12, 13)
    assert asyncio.run(in_order.admit(kept_back)) == [] and consumer.seeks == [(VITALS0, 11)]
    assert all(e.message.refcount > 2 for e in kept_back)
    again = asyncio.run(in_order.admit(_events(11, 12, 13, 14)))
    assert [e.message.offset for e in again] == [11, 12, 13, 14]
    redelivered = asyncio.run(in_order.admit(_events(12, 13, 14, 15)))  # after a seek back
    assert [e.message.offset for e in redelivered] == [12, 13, 14, 15]


def test_a_new_generation_starts_at_the_committed_offset():
    from types import SimpleNamespace

    consumer = _Consumer({VITALS0: 10})
    app_ = SimpleNamespace(consumer=consumer, consumer_generation_id=1)
    in_order = delivery.InOrder(app_)
    assert len(asyncio.run(in_order.admit(_events(10, 11)))) == 2
    app_.consumer_generation_id, consumer._committed_offset[VITALS0] = 2, 40  # moved away and back
    assert [e.message.offset for e in asyncio.run(in_order.admit(_events(40, 41)))] == [40, 41]
    app_.consumer_generation_id = 3
    assert asyncio.run(in_order.admit(_events(42))) == [] and consumer.seeks == [(VITALS0, 40)]


def test_records_fetched_before_a_rebalance_are_kept_back():
    """A batch took ecg/1's records 13-14 in generation 4; the rebalance to generation 5 kept
    the partition here, committed at 13, and the batch runs now (stop 51: while the table's
    recovery was still reading the changelog, which then put back the state the revocation had
    written, losing what the batch took in). Records fetched in generation 4 are not taken,
    whatever their offset, and do not move the partition's next offset: the seek reads 13 and
    14 again in generation 5, and those are taken."""
    from types import SimpleNamespace

    ecg1 = TP("ecg", 1)
    consumer = _Consumer({ecg1: 13})
    app_ = SimpleNamespace(consumer=consumer, consumer_generation_id=5)
    in_order = delivery.InOrder(app_)
    stale = _events(13, 14, tp=ecg1)
    for e in stale:
        e.message.generation_id = 4
    again = _events(13, 14, tp=ecg1)
    for e in again:
        e.message.generation_id = 5
    assert asyncio.run(in_order.admit(stale)) == [] and consumer.seeks == []
    assert all(e.message.refcount > 2 for e in stale)  # the stream's acknowledgements cannot count
    assert [e.message.offset for e in asyncio.run(in_order.admit(again))] == [13, 14]
    # records without a generation (the test fakes above, and any transport that has none) are
    # judged by their offsets alone
    assert [e.message.offset for e in asyncio.run(in_order.admit(_events(15, tp=ecg1)))] == [15]


def test_an_agent_handles_only_what_is_current_under_its_lock():
    """Checked under the agent's lock right before it handles a batch: a record fetched in an
    earlier generation, or of a partition between revocation and assignment (no committed
    offset), is kept back (never acknowledged); the rest is handled."""
    from types import SimpleNamespace

    ecg1, ecg2 = TP("ecg", 1), TP("ecg", 2)
    consumer = _Consumer({ecg1: 13})
    app_ = SimpleNamespace(consumer=consumer, consumer_generation_id=5)
    events = _events(13, tp=ecg1) + _events(14, tp=ecg1) + _events(15, tp=ecg1) + _events(7, tp=ecg2)
    for e, generation in zip(events, (4, 5, None, 5), strict=True):
        e.message.generation_id = generation
        consumer._unacked_messages.add(e.message)
    got = delivery.current(app_, events)
    assert [(e.message.tp, e.message.offset) for e in got] == [(ecg1, 14), (ecg1, 15)]
    kept = [events[0].message, events[3].message]
    assert all(m.refcount > 2 and m not in consumer._unacked_messages for m in kept)


def test_records_that_come_before_the_seek_are_kept_back():
    """A rebalance revoked the partition (its committed offset is gone) and the seek that ends
    it has not come yet: a record from before it (say 15, fetched or queued in the old
    generation, while 12-14 were dropped with the old queues) is not taken, and nothing is
    sought (the seek reads from the committed offset). Once the seek has set it, 12 on are."""
    from types import SimpleNamespace

    consumer = _Consumer({})
    app_ = SimpleNamespace(consumer=consumer, consumer_generation_id=2)
    in_order = delivery.InOrder(app_)
    early = _events(15, 16)
    assert asyncio.run(in_order.admit(early)) == [] and consumer.seeks == []
    assert all(e.message.refcount > 2 for e in early)  # the stream's acknowledgements cannot count
    consumer._committed_offset[VITALS0] = 12
    assert [e.message.offset for e in asyncio.run(in_order.admit(_events(12, 13, 14, 15)))] == [
        12,
        13,
        14,
        15,
    ]


def test_a_partition_whose_delivered_records_nobody_holds_is_read_again(caplog):
    """Records 10-13 were handed to the streams, none is acknowledged and no agent holds one
    (dropped, with nothing after them to show it): after STALL_S the partition is read again
    from 10. A partition whose records an agent holds (a sink retrying) is left alone for
    HELD_STALL_S; after HELD_REPORT_S one line says what holds it."""
    from types import SimpleNamespace

    vitals1 = TP("vitals", 1)
    consumer = _Consumer({VITALS0: 10, vitals1: 5})
    consumer._read_offset = {VITALS0: 14, vitals1: 9}
    consumer._acked = {}
    consumer._unacked_messages = {_Msg(vitals1, 6)}  # held by an agent
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True), in_recovery=False)
    consumer.assignment = lambda: {VITALS0, vitals1}
    seen: dict = {}
    assert asyncio.run(delivery.unstall(consumer, 100.0, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S - 1, seen)) == []
    with caplog.at_level("WARNING", logger="wardwatch.delivery"):
        assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S, seen)) == [VITALS0]
        assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S + 5, seen)) == []
        assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.HELD_REPORT_S, seen)) == []
    assert consumer.seeks == [(VITALS0, 10)] and consumer._read_offset[VITALS0] == 10
    waits = [r.getMessage() for r in caplog.records if "while an agent holds" in r.getMessage()]
    assert waits == [
        "record 5 of TP(topic='vitals', partition=1) not committed for 30 s while an agent holds"
        " records of it: held [6(refs=1)], acked [], next 9"
    ], waits
    # held, but not acknowledged for HELD_STALL_S: read again all the same
    assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.HELD_STALL_S - 1, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.HELD_STALL_S, seen)) == [vitals1]
    assert consumer.seeks[-1] == (vitals1, 5)


def test_a_partition_the_fetcher_does_not_read_is_resumed_and_read_again():
    """labs/2 has 3 records on the broker (highwater 3) from its committed offset 0, none
    handed to the streams and none acknowledged (Faust left it paused after a rebalance, as
    ci40 saw): after STALL_S it is resumed and read from 0. Not while the flow is stopped or
    recovery runs (Faust holds partitions back then), nor for an idle partition (highwater =
    committed), nor for one whose records were handed on."""
    from types import SimpleNamespace

    labs2, idle, handed = TP("labs", 2), TP("labs", 0), TP("labs", 1)
    consumer = _Consumer({labs2: 0, idle: 5, handed: 7})
    consumer._read_offset = {labs2: 0, idle: 5, handed: 9}
    consumer.fetched_ends = {labs2: 3, idle: 5, handed: 9}
    consumer._acked = {handed: [7, 8]}
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True), in_recovery=True)
    consumer.assignment = lambda: {labs2, idle, handed}
    seen: dict = {}
    assert asyncio.run(delivery.unstall(consumer, 100.0, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S, seen)) == []  # recovering
    consumer.app.in_recovery, consumer.flow_active = False, False
    assert asyncio.run(delivery.unstall(consumer, 200.0 + delivery.STALL_S, seen)) == []  # flow stopped
    consumer.flow_active = True
    assert asyncio.run(delivery.unstall(consumer, 300.0, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, 300.0 + delivery.STALL_S - 1, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, 300.0 + delivery.STALL_S, seen)) == [labs2]
    assert consumer.resumed == [labs2] and consumer.seeks == [(labs2, 0)]
    # fetched and being processed now: nothing more
    consumer._read_offset[labs2] = 3
    assert asyncio.run(delivery.unstall(consumer, 400.0 + delivery.STALL_S, seen)) == []
    assert consumer.resumed == [labs2]


def test_a_partition_the_fetcher_stopped_reading_is_found_by_the_brokers_end_offset(caplog):
    """The kill test in stop 51: alerts.ack/3 committed at 49, nothing handed on, and the end
    offset of the fetcher's last fetch 49 (record 49 was sent after it): by what the fetcher
    saw, it is idle. It was not: records never handled for minutes. The check asks the broker
    for the end offsets of the partitions that look idle; alerts.ack/3's is 50, so after
    STALL_S it is resumed and read from 49. A truly idle partition (paused or not) is left
    alone, one whose commit can move (its next record acknowledged) is not stalled, and one
    whose records are known to be past the commit is not asked about. While the flow is stopped,
    nothing is asked or done."""
    from types import SimpleNamespace

    ack3, ack2, ack1, busy = TP("alerts.ack", 3), TP("alerts.ack", 2), TP("alerts.ack", 1), TP("vitals", 0)
    consumer = _Consumer({ack3: 49, ack2: 44, ack1: 30, busy: 100})
    consumer._read_offset = {ack3: 49, ack2: 44, ack1: 30, busy: 120}
    consumer.fetched_ends = {ack3: 49, ack2: 44, ack1: 30, busy: 130}
    consumer.broker_ends = {ack3: 50, ack2: 44, ack1: 30, busy: 140}
    consumer._acked = {busy: [100, 101]}
    consumer._active_partitions = {ack2, busy}  # ack3 and ack1 left out of Faust's fetch
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True), in_recovery=False)
    consumer.assignment = lambda: {ack3, ack2, ack1, busy}
    seen: dict = {}
    assert asyncio.run(delivery.unstall(consumer, 100.0, seen)) == []
    assert consumer.asked_ends == [{ack3, ack2, ack1}]
    assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S - 1, seen)) == []
    with caplog.at_level("WARNING", logger="wardwatch.delivery"):
        assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S, seen)) == [ack3]
    assert consumer.resumed == [ack3] and consumer.seeks == [(ack3, 49)]
    assert [r.getMessage() for r in caplog.records] == [
        "record 49 of TP(topic='alerts.ack', partition=3) not committed for 10 s, records up to 50 on the"
        " broker (the partition was not being fetched): held [], acked [], next 49; reading it again"
    ]
    consumer.flow_active, consumer.asked_ends = False, []
    assert asyncio.run(delivery.unstall(consumer, 200.0, seen)) == [] and consumer.asked_ends == []


def test_a_leftover_record_below_the_commit_does_not_hide_a_stall():
    """An unacknowledged record of alerts.ack/3 at offset 40, below its committed offset 49 (a
    leftover of a batch the commit has passed), does not count as held: record 49, on the
    broker and never handed on, is read again after STALL_S, not HELD_STALL_S or never."""
    from types import SimpleNamespace

    ack3 = TP("alerts.ack", 3)
    consumer = _Consumer({ack3: 49})
    consumer._read_offset = {ack3: 49}
    consumer.fetched_ends = {ack3: 50}
    consumer._acked = {}
    consumer._unacked_messages = {_Msg(ack3, 40)}
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True), in_recovery=False)
    consumer.assignment = lambda: {ack3}
    seen: dict = {}
    assert asyncio.run(delivery.unstall(consumer, 100.0, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, 100.0 + delivery.STALL_S, seen)) == [ack3]


def test_a_partition_aiokafka_no_longer_has_does_not_stop_the_check():
    """aiokafka's ``highwater`` asserts the partition is still assigned; in a rebalance Faust's
    assignment can still list one that aiokafka has dropped. That partition is passed over, the
    others are still checked."""
    from types import SimpleNamespace

    gone, labs2 = TP("labs", 0), TP("labs", 2)
    consumer = _Consumer({gone: 0, labs2: 0})
    consumer._read_offset = {gone: 0, labs2: 0}
    consumer._acked = {}

    def highwater(tp):
        assert tp != gone, "Partition is not assigned"
        return 3

    consumer.highwater = highwater
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True), in_recovery=False)
    consumer.assignment = lambda: [gone, labs2]
    seen: dict = {}
    assert asyncio.run(delivery.unstall(consumer, 0.0, seen)) == []
    assert asyncio.run(delivery.unstall(consumer, delivery.STALL_S, seen)) == [labs2]


class _Stream:
    """Faust's ``take_events`` as far as acknowledgements go: each batch acknowledged (count
    down; acknowledged at zero) as the generator moves on or closes, whatever the agent did."""

    def __init__(self, app_, batches: list[list]):
        self.app, self.batches, self.acked = app_, batches, []

    async def take_events(self, n: int, within: float):
        for batch in self.batches:
            try:
                yield batch
            finally:
                for e in batch:
                    await self.ack(e)

    async def ack(self, event) -> None:
        event.message.refcount -= 1
        if event.message.refcount == 0:
            self.acked.append(event.message.offset)


def test_a_batch_whose_agent_raised_is_never_acknowledged():
    """The agent crashes on its second batch (Faust restarts a crashed agent; run_batches keeps
    handler errors from getting this far, but a cancelled body ends the same way): the first batch is
    acknowledged once, the second's records are kept back (not acknowledged by take_events'
    own closing acknowledgement) and no agent counts as holding them, so the partition is read
    again from 12 (an acknowledged 12 would let the commit pass records nobody processed)."""
    from types import SimpleNamespace

    consumer = _Consumer({VITALS0: 10})
    stream = _Stream(
        SimpleNamespace(consumer=consumer, consumer_generation_id=1), [_events(10, 11), _events(12, 13)]
    )
    consumer._unacked_messages = {e.message for b in stream.batches for e in b}
    handled = []

    async def agent() -> None:
        batches = delivery.acked_batches(stream, 10, 0.1)
        try:
            async for events in batches:
                if events[0].message.offset == 12:
                    raise RuntimeError("an agent crashed")
                handled.extend(e.message.offset for e in events)
        finally:
            await batches.aclose()  # what the generator's finalizer does after a crash

    with pytest.raises(RuntimeError):
        asyncio.run(agent())
    assert handled == [10, 11] and stream.acked == [10, 11]
    crashed = stream.batches[1]
    assert all(e.message.refcount > 0 for e in crashed)
    assert not {e.message for e in crashed} & consumer._unacked_messages


def _consumer_message(offset: int):
    from faust.types.tuples import ConsumerMessage

    return ConsumerMessage(
        "vitals", 0, offset, 0.0, 0, [], b"k", b"v", None, generation_id=app.consumer_generation_id
    )


@pytest.mark.parametrize("iterator", ["_c_aiter", "_py_aiter"])
def test_a_record_the_streams_skip_is_not_acknowledged(consumer, faust_loop, monkeypatch, iterator):
    """A real Faust stream takes two records while the app's flow is stopped, then one after it
    resumes: the skipped records are not acknowledged and the one taken in is. Faust's Cython
    iterator (what a worker runs) does not acknowledge a skipped record; its pure-Python one
    does (so a commit could pass records nobody processed) unless fix 7 holds."""
    from faust.events import Event

    monkeypatch.setattr(app.topics, "_acking_topics", {"vitals"})
    consumer._committed_offset[VITALS0] = 5
    messages = [_consumer_message(o) for o in (5, 6, 7)]

    async def run() -> object:
        channel = app.channel()
        records = getattr(app.stream(channel), iterator)()
        for m in messages:
            m.incref()  # the channel's reference, as the fetch loop's delivery takes it
        app.flow_control.resume()
        for m in messages[:2]:  # queued before a rebalance stops the flow
            await channel.put(Event(app, m.key, m.value, {}, m))
        app.flow_control.suspend()
        try:
            taking = asyncio.ensure_future(records.__anext__())
            while not channel.empty():  # the stream skips both while the flow is stopped
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.01)
            app.flow_control.resume()
            await channel.put(Event(app, messages[2].key, b"taken", {}, messages[2]))
            return await asyncio.wait_for(taking, 5)
        finally:
            await records.aclose()
            app.flow_control.suspend()

    assert faust_loop.run_until_complete(run()) == b"taken"
    assert [m.tracked for m in messages] == [False, False, True]
    assert not messages[0].acked and not messages[1].acked
    assert consumer._acked[VITALS0] == [7]  # the record taken in, as the stream moved on
    assert consumer._new_offset(VITALS0) is None  # 5 and 6 still to come: nothing committed
    consumer._acked[VITALS0][:] = []


def test_faust_acknowledges_a_record_no_stream_took_in(consumer, monkeypatch):
    monkeypatch.setattr(app.topics, "_acking_topics", {"vitals"})
    consumer._committed_offset[VITALS0] = 5
    skipped = _consumer_message(5)
    assert not consumer.ack(skipped) and consumer._acked[VITALS0] == []
    assert FAUST_ORIGINALS["Consumer.ack"](consumer, skipped) and consumer._acked[VITALS0] == [5]
    consumer._acked[VITALS0][:] = []


class _Record:
    def __init__(self, offset: int):
        self.offset = offset


class _GetmanyConsumer:
    """What ``getmany`` (fix 9) uses of Faust's consumer and, behind its thread, of aiokafka's:
    one fetch of ``records``; ``stop_after`` records are taken before the flow stops."""

    def __init__(self, records, flow_active: bool = True, stop_after: int | None = None, acks: bool = False):
        from types import SimpleNamespace

        from faust.transport.utils import DefaultSchedulingStrategy

        self.records, self.flow_active, self.stop_after = records, flow_active, stop_after
        self.should_stop, self._buffered_partitions = False, set()
        self.scheduler = DefaultSchedulingStrategy()
        self.app = SimpleNamespace(
            consumer_generation_id=1,
            monitor=SimpleNamespace(track_tp_end_offset=lambda tp, hw: None),
            topics=SimpleNamespace(acks_enabled_for=lambda topic: acks),
        )
        self.fetcher = SimpleNamespace(_ww_seeks={})
        self.aiokafka_seeks: list[tuple[TP, int]] = []
        self.perform_seeks = 0
        outer = self

        class _AIOKafka:
            _fetcher = outer.fetcher

            def assignment(self):
                return set(outer.records)

            def seek(self, tp, offset):
                outer.aiokafka_seeks.append((tp, offset))

        class _Thread:
            def _ensure_consumer(self):
                return _AIOKafka()

            async def call_thread(self, fun, *args):
                return fun(*args)

        self._thread = _Thread()

    async def _wait_next_records(self, timeout: float):
        self._ww_fetched = {tp: self.fetcher._ww_seeks.get(tp, 0) for tp in self.records}
        return self.records, set(self.records)

    def highwater(self, tp: TP) -> int:
        return 100

    def _to_message(self, tp: TP, record: _Record):
        return record.offset

    async def perform_seek(self) -> None:
        self.perform_seeks += 1

    async def take(self) -> list[int]:
        got = []
        async for _tp, offset in delivery._getmany(self, timeout=1.0):
            got.append(offset)
            if self.stop_after is not None and len(got) >= self.stop_after:
                self.flow_active = False  # a rebalance stops the flow mid-batch
        return got


CHANGELOG0 = TP("wardwatch-vitals-state-changelog", 0)


def test_changelog_records_dropped_when_the_flow_stops_are_read_again():
    """The flow stops after two of five fetched changelog records: the partition is sought back
    to the third, which nothing else would read again (fix 9; Faust leaves it past them)."""
    c = _GetmanyConsumer({CHANGELOG0: [_Record(o) for o in range(10, 15)]}, stop_after=2)
    assert asyncio.run(c.take()) == [10, 11] and c.aiokafka_seeks == [(CHANGELOG0, 12)]
    # a fetch that finds the flow stopped: all of it again, and Faust's seek of the inputs
    c = _GetmanyConsumer({CHANGELOG0: [_Record(o) for o in range(10, 15)]}, flow_active=False)
    assert asyncio.run(c.take()) == [] and c.aiokafka_seeks == [(CHANGELOG0, 10)] and c.perform_seeks == 1


def test_a_dropped_changelog_batch_is_not_read_again_after_a_seek_or_when_whole():
    c = _GetmanyConsumer({CHANGELOG0: [_Record(o) for o in range(10, 15)]})
    assert asyncio.run(c.take()) == [10, 11, 12, 13, 14] and c.aiokafka_seeks == []
    c = _GetmanyConsumer({CHANGELOG0: [_Record(o) for o in range(10, 15)]}, stop_after=2)
    gen = delivery._getmany(c, timeout=1.0)

    async def take_with_a_recovery_seek() -> None:
        async for _tp, offset in gen:
            if offset == 11:
                c.flow_active = False
                c.fetcher._ww_seeks[CHANGELOG0] = 1  # the recovery sought the partition meanwhile

    asyncio.run(take_with_a_recovery_seek())
    assert c.aiokafka_seeks == []
    # input topics are Faust's own perform_seek's (to the committed offsets), not sought here
    c = _GetmanyConsumer({VITALS0: [_Record(o) for o in range(10, 15)]}, stop_after=2, acks=True)
    assert asyncio.run(c.take()) == [10, 11] and c.aiokafka_seeks == []


def test_a_seek_of_a_partition_that_moved_is_skipped_not_raised():
    """The fetch loop decides to read a partition again and a rebalance moves it before the
    seek runs: aiokafka would raise IllegalStateError and the loop's error crash the worker;
    the seek is skipped instead (the next owner reads from the committed offset)."""
    c = _GetmanyConsumer({CHANGELOG0: []})
    asyncio.run(delivery._seek_in_thread(c, CHANGELOG0, 7))
    asyncio.run(delivery._seek_in_thread(c, VITALS0, 7))  # not assigned here
    assert c.aiokafka_seeks == [(CHANGELOG0, 7)]


class _HeldMsg:
    """What :class:`delivery.HeldAcks` touches of a Faust message (its reference count and its
    final acknowledgement, as ``faust.types.tuples.Message.ack`` keeps them)."""

    def __init__(self) -> None:
        self.refcount, self.acked = 1, False  # the conductor's reference for its one channel

    def incref(self) -> None:
        self.refcount += 1

    def ack(self) -> None:
        self.refcount -= 1
        self.acked = self.acked or self.refcount == 0


class _HeldEv:
    def __init__(self) -> None:
        self.message = _HeldMsg()

    def ack(self) -> None:
        self.message.ack()


def test_held_records_are_acknowledged_only_when_released_and_a_rewind_replays_them_in_order():
    held = delivery.HeldAcks()
    first, second = [_HeldEv(), _HeldEv()], [_HeldEv()]
    for batch in (first, second):
        held.hold(batch, ["A"] * len(batch))
        for e in batch:
            e.ack()  # the stream's own acknowledgement once the agent's body returned
    assert not any(e.message.acked for e in first + second) and held.count() == 3
    held.rewind()  # a failed batch put the states back to the checkpoint
    assert held.replay == [first, second] and held.held == []
    held.replayed(["A", "A"])  # the first one handled again: held as before
    assert [[e for e, _ in b] for b in held.held] == [first] and held.replay == [second]
    held.replayed(["A"])
    assert held.release() == 3 and all(e.message.acked for e in first + second)
    assert held.held == [] and _early_acks() == 0


def test_a_release_of_some_states_acknowledges_only_their_records_and_the_rest_replays_in_order():
    """A checkpoint in slices writes some patients' states: only their records (and those that
    went into no state) are acknowledged; the others stay held, in their order, and are what a
    rewind hands back to handle again."""
    held = delivery.HeldAcks()
    a1, b1, bad, a2, b2 = (_HeldEv() for _ in range(5))
    held.hold([a1, b1, bad], ["A", "B", None])
    held.hold([a2], ["A"])
    held.hold([b2], ["B"])
    for e in (a1, b1, bad, a2, b2):
        e.ack()
    assert held.release(lambda key: key == "A") == 3
    assert [e.message.acked for e in (a1, b1, bad, a2, b2)] == [True, False, True, True, False]
    assert held.count() == 2
    held.rewind()
    assert held.replay == [[b1], [b2]] and held.held == []


def _early_acks() -> int:
    from streams.metrics import metrics

    return int(metrics.counts.get("delivery_acked_early", 0))


def test_a_record_acknowledged_before_its_checkpoint_is_counted():
    held, e = delivery.HeldAcks(), _HeldEv()
    before = _early_acks()
    held.hold([e], ["A"])
    e.message.ack()
    e.message.ack()  # a reference given up twice: acknowledged before the checkpoint
    held.release()
    assert _early_acks() == before + 1


def test_a_rebalance_drops_the_batches_left_to_handle_again():
    class Consumer:
        def __init__(self, messages):
            self._unacked_messages = set(messages)

    held = delivery.HeldAcks()
    batch = [_HeldEv(), _HeldEv()]
    held.hold(batch, ["A", None])
    held.rewind()
    consumer = Consumer([e.message for e in batch])
    assert held.forget_replay(consumer) == 2
    assert held.replay == [] and consumer._unacked_messages == set()
    assert not any(e.message.acked for e in batch)  # never acknowledged: read again from the commit
