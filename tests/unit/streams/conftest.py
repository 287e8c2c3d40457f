"""Faust's own test harness for the agents, without a broker.

``agent.test_context()`` (faust-streaming 0.15.3, ``faust/agents/agent.py``) runs a copy of an
agent on an in-memory channel: ``put()`` hands it a message (key, value, partition and an offset
that counts up from 0) as the agent's topic would. It does nothing about the agent's *outputs*:
``topic.send()`` and a table's changelog still go to ``app.producer``, which would connect to
Kafka. Faust's testing guide mocks each topic's ``send``; here the broker end is replaced
instead, so that everything between the agent and the broker is Faust's own code (serialisers,
``Topic.send``/``publish_message``, the producer buffer that carries table changelogs, the
futures that :func:`streams.delivery.publish` awaits):

:class:`BrokerStub` is a Faust ``Producer`` whose ``send()`` returns the future a broker's
acknowledgement resolves; it resolves it at once (or when the test releases it, or fails it, to
see what the agent does while its outputs are not acknowledged) and records what the broker
acknowledged. It is started with each test, as a worker starts its producer (the buffer that
carries table changelogs runs only in a started producer).

A message is *processed* when the agent acknowledged it (``event.message.acked``): Faust acks an
``events()`` message when the agent asks for the next one; :func:`streams.delivery.
acked_batches` and Faust's ``take()`` ack a batch after the agent's body for it returned. (For an
agent that yields nothing, as ours, ``put(wait=True)`` returns earlier: when the message enters
the agent's stream.)

Every agent test runs on one event loop (the app's, for the session): the agents' module-level
locks and the app's flow control bind to the loop they first wait on. The fixture restores the
app's producer, flow control, tables and metrics afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from faust.agents.agent import AgentTestWrapper
from faust.exceptions import ProducerSendError
from faust.transport.producer import Producer
from faust.types.tuples import TP, RecordMetadata

from streams.app import app
from wardwatch import topics
from wardwatch.records.points import unpack_points

#: seconds a test waits for an agent before it fails
TIMEOUT_S = 10.0


class BrokerUnavailableError(Exception):
    """What the stub's broker answers a send it fails."""


@dataclass
class Sent:
    """A message the broker acknowledged (key and value as sent: serialised bytes)."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None

    def json(self) -> Any:
        return None if self.value is None else json.loads(self.value)


@dataclass
class _Pending:
    future: asyncio.Future
    sent: Sent


class BrokerStub(Producer):
    """A Faust producer with the broker replaced by a list (see the module docstring).

    ``hold = True`` leaves acknowledgements pending until :meth:`release`; ``fail_next = n``
    makes the broker fail the next ``n`` sends; ``max_request_size`` refuses a longer value at
    once, as Faust's aiokafka producer does (``ProducerSendError`` from aiokafka's
    ``MessageSizeTooLargeError``).
    """

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(transport, loop=loop)
        self.sent: list[Sent] = []
        self.pending: list[_Pending] = []
        self.failed: list[Sent] = []
        self.hold = False
        self.fail_next = 0
        self.max_request_size: int | None = None

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> asyncio.Future:
        if self.max_request_size is not None and len(value or b"") > self.max_request_size:
            try:
                raise MessageSizeTooLargeError(f"The message is {len(value or b'')} bytes")
            except MessageSizeTooLargeError as exc:
                raise ProducerSendError(f"Error while sending: {exc!r}") from exc
        fut = asyncio.get_running_loop().create_future()
        msg = Sent(topic, key, value, partition)
        if self.fail_next:
            self.fail_next -= 1
            self.failed.append(msg)
            fut.set_exception(BrokerUnavailableError("not acknowledged"))
        elif self.hold:
            self.pending.append(_Pending(fut, msg))
        else:
            self._ack(fut, msg)
        return fut

    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> RecordMetadata:
        return await (await self.send(topic, key, value, partition, timestamp, headers))

    def release(self) -> None:
        """Acknowledge every held send, and those to come."""
        self.hold = False
        for p in self.pending:
            self._ack(p.future, p.sent)
        self.pending.clear()

    def _ack(self, fut: asyncio.Future, msg: Sent) -> None:
        self.sent.append(msg)
        part = msg.partition or 0
        fut.set_result(
            RecordMetadata(
                topic=msg.topic,
                partition=part,
                topic_partition=TP(msg.topic, part),
                offset=len(self.sent) - 1,
                timestamp=None,
            )
        )


class AgentHarness:
    """What an agent test needs: the loop, the broker stub and the waits."""

    def __init__(self, loop: asyncio.AbstractEventLoop, broker: BrokerStub):
        self.loop = loop
        self.broker = broker

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT_S * 2))

    def sent(self, topic: str) -> list[Sent]:
        """What the broker acknowledged on ``topic``, in order."""
        return [m for m in self.broker.sent if m.topic == topic]

    def values(self, topic: str) -> list[Any]:
        """The JSON values acknowledged on ``topic``, in order."""
        return [m.json() for m in self.sent(topic)]

    def points(self) -> list[Any]:
        """The points acknowledged on ``influx.points``, in order, batches unpacked."""
        return [p for v in self.values(topics.POINTS) for p in unpack_points(v)]

    def changelog(self, table: Any) -> list[Sent]:
        return self.sent(table.changelog_topic.get_topic_name())

    @staticmethod
    async def processed(agent: Any, *events: Any) -> None:
        """Wait until the agent has acknowledged each of ``events`` (raise if it crashed)."""
        async with asyncio.timeout(TIMEOUT_S):
            while not all(e.message.acked for e in events):
                if agent._crash_reason is not None:
                    raise agent._crash_reason
                await asyncio.sleep(0.002)

    async def changelogged(self, table: Any, n: int) -> list[Sent]:
        """Wait until ``n`` changes of ``table`` reached the broker (a table sends its
        changelog through the producer buffer, after the agent wrote the table); return them."""
        await self.until(lambda: len(self.changelog(table)) >= n)
        return self.changelog(table)

    async def until(self, condition: Any) -> None:
        """Wait until ``condition()`` holds."""
        async with asyncio.timeout(TIMEOUT_S):
            while not condition():
                await asyncio.sleep(0.002)


@pytest.fixture(scope="session")
def faust_loop():
    """One event loop for every agent test, made the app's loop for the session."""
    loop = asyncio.new_event_loop()
    previous = app._loop
    app.loop = loop
    yield loop
    tasks = asyncio.all_tasks(loop)
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks))
    loop.close()
    app.loop = previous


#: the user-token secret the ``auth_secret`` fixture gives the alert agents
AUTH_SECRET = b"s" * 32


@pytest.fixture
def auth_secret():
    """The alert agents' token secret, as if configured on the worker (restored afterwards)."""
    from streams.alerts import agents as alert_agents

    auth = alert_agents.auth
    saved = (auth.loaded, auth.secret, auth.problem)
    auth.loaded, auth.secret, auth.problem = True, AUTH_SECRET, ""
    yield AUTH_SECRET
    auth.loaded, auth.secret, auth.problem = saved


_faust_put = AgentTestWrapper.put


_faust_to_message = AgentTestWrapper.to_message


def _message_as_delivered(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``AgentTestWrapper.to_message`` with the reference a worker's conductor gives each message
    for the one channel it delivers it to (``faust/transport/conductor.py``: ``message.incref``),
    and that the stream's own acknowledgement gives up: without it a message would be acknowledged
    one reference early, and an agent that holds a reference (an acknowledgement that waits for
    a checkpoint) would not be seen holding it."""
    message = _faust_to_message(self, *args, **kwargs)
    message.incref()
    return message


async def _put_offsets_per_partition(
    self: Any, value: Any = None, key: Any = None, partition: int | None = None, *args: Any, **kwargs: Any
) -> Any:
    """``AgentTestWrapper.put`` with offsets counted per partition, as a topic's are (Faust's
    counts them across partitions, so an agent that checks that each partition's offsets follow
    on, :class:`streams.delivery.InOrder`, would see gaps). ``agent.sent_offset = n`` before a
    put still sets its offset (the consumer reads the partition again from ``n``). A value that
    is not bytes arrives as its JSON, as an agent's ``*_topic.send`` writes it (the agents read
    every topic as raw bytes, ``streams.topics``)."""
    if value is not None and not isinstance(value, bytes):
        value = json.dumps(value).encode()  # as the producer's JSON codec writes it
    nxt: dict[int, int] = self.__dict__.setdefault("_next_offset", {})
    part = partition or 0
    if self.sent_offset == self.__dict__.get("_offset_after_put", 0):  # not set by the test
        self.sent_offset = nxt.get(part, 0)
    # the partition's committed offset, as a worker's seek to it sets it when the partition is
    # assigned (before that, :class:`streams.delivery.InOrder` keeps every record back)
    with contextlib.suppress(ValueError):  # an agent on an internal channel: nothing to commit
        name = self._get_strtopic(self.original_channel)
        app.consumer._committed_offset.setdefault(TP(name, part), self.sent_offset)
    event = await _faust_put(self, value, key, partition, *args, **kwargs)
    nxt[part] = self._offset_after_put = self.sent_offset
    return event


@pytest.fixture
def agents(faust_loop, monkeypatch):
    """An :class:`AgentHarness` with the app's producer replaced by a :class:`BrokerStub`;
    the tables the agents write are emptied before and after. The ECG and vitals agents write
    their states after every batch (a test of a checkpoint sets the interval itself), so that a
    record they handled counts as processed (acknowledged) at once."""
    import streams.ecg.agents as ecg_agents
    import streams.vitals.agents as vitals_agents
    from streams.alerts.agents import open_alerts
    from streams.delivery import HeldAcks
    from streams.metrics import metrics
    from streams.vitals.agents import vitals_state

    monkeypatch.setattr(AgentTestWrapper, "put", _put_offsets_per_partition)
    monkeypatch.setattr(AgentTestWrapper, "to_message", _message_as_delivered)
    monkeypatch.setattr(ecg_agents, "CHECKPOINT_S", 0.0)
    monkeypatch.setattr(ecg_agents.rt, "acks", HeldAcks())
    monkeypatch.setattr(ecg_agents.rt, "turns", ecg_agents._turns(time.monotonic()))
    ecg_agents.ecg_state._kept().clear()
    monkeypatch.setattr(vitals_agents, "CHECKPOINT_S", 0.0)
    monkeypatch.setattr(vitals_agents.cp, "acks", HeldAcks())
    vitals_state._kept().clear()
    saved = app._producer, app._producer_transport
    was_active = app.flow_control.is_active()
    counts = metrics.counts.copy()
    broker = BrokerStub(app.producer_transport, faust_loop)
    app.producer = broker
    faust_loop.run_until_complete(broker.start())  # a worker starts its producer at once
    for table in (vitals_state, open_alerts):
        table.data.clear()
    app.consumer._committed_offset.clear()
    harness = AgentHarness(faust_loop, broker)
    yield harness
    # table changelogs still queued, then stop
    faust_loop.run_until_complete(asyncio.wait_for(broker.buffer.flush(), TIMEOUT_S))
    faust_loop.run_until_complete(broker.stop())
    app._producer, app._producer_transport = saved
    if not was_active:
        app.flow_control.suspend()
    for table in (vitals_state, open_alerts):
        table.data.clear()
    metrics.counts.clear()
    metrics.counts.update(counts)
