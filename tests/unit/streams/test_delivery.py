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
