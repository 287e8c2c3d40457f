"""``wardwatch gateway hl7``: an MLLP listener taking IHE PCD-01 ORU^R01 from bedside devices,
and ADT^A01 / ADT^A03 (admit, discharge: :mod:`wardwatch.hl7.adt`) from the hospital's ADT feed.

Per connection (python-hl7's asyncio MLLP server; one task per connection, so a slow or broken
connection never holds up another), each frame in turn:

1. the bytes between <VT> and <FS><CR> are decoded as UTF-8 (else AR 102) and mapped by
   :func:`wardwatch.hl7.pcd01.map_message` (ADT: :func:`wardwatch.hl7.adt.map_adt`, to
   ``admissions``);
2. a message it cannot use gets ACK ``AE`` or ``AR`` with an ERR segment, and its raw bytes go
   to ``deadletter`` (source ``hl7``, with the HL7 error code and location in ``detail``);
3. otherwise every record is sent to ``vitals`` / ``ecg`` (aiokafka, ``acks=all``) and ACK
   ``AA`` is written only after Kafka acknowledged all of them;
4. when Kafka cannot take the records (or the dead letter), no ACK is sent and the connection is
   closed: the device, not having its ACK, sends the message again (PCD-01 senders resend a
   message whose ACK does not come), so nothing is lost; delivery is at least once.

Bytes before <VT> are discarded (logged), so a stray byte does not cost the message after it; a
frame that holds no <VT> at all is garbage: AR and a dead letter. A frame larger than
``max_message_bytes`` or a connection idle for ``idle_timeout_s`` is closed. A half frame at
EOF is dropped (logged): the sender never got an ACK for it.

Why aiokafka: the listener is asyncio (python-hl7's MLLP), and aiokafka's futures let one
message's records go out together and be awaited without a thread per connection; it takes the
same connection settings as every client (:func:`wardwatch.kafka_io.start_aio_producer`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from hl7.mllp import start_hl7_server

from wardwatch import topics
from wardwatch.hl7.adt import ADT_TAKEN, MappedADT, map_adt
from wardwatch.hl7.pcd01 import (
    ORU_R01,
    HL7Error,
    Mapped,
    ack,
    check_header,
    map_message,
    parse,
    patient_of,
)
from wardwatch.kafka_io import never_sendable, start_aio_producer
from wardwatch.logs import log_event, pid_ref
from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE, deadletter_record

log = logging.getLogger("wardwatch.hl7.gateway")

VT, FS_CR = b"\x0b", b"\x1c\x0d"
#: Every message type the gateway takes: PCD-01 observations and the ADT feed.
TAKEN = ORU_R01 | ADT_TAKEN
SOURCE = "hl7"


class GatewayUnavailable(RuntimeError):
    """Kafka did not take a message's records: the message is not acknowledged."""


class HL7Gateway:
    """The listener; ``await start()``, then ``port`` is the bound port; ``await stop()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2575,
        *,
        max_message_bytes: int = 4 * 1024 * 1024,
        idle_timeout_s: float = 600.0,
        send_timeout_s: float = 30.0,
    ) -> None:
        self.host, self.port = host, port
        self.max_message_bytes = max_message_bytes
        self.idle_timeout_s = idle_timeout_s
        self.send_timeout_s = send_timeout_s
        self.counts = {"AA": 0, "AE": 0, "AR": 0, "unacked": 0, "connections": 0, "records": 0}
        self._server: Any = None
        self._producer: Any = None
        self._conns: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        from aiokafka.errors import KafkaError

        try:
            p = await start_aio_producer(
                enable_idempotence=True,
                linger_ms=2,
                client_id="wardwatch-hl7-gateway",
                max_request_size=topics.DEADLETTER_MAX_BYTES,  # a dead letter carries its frame whole
                request_timeout_ms=int(self.send_timeout_s * 1000),
            )
        except KafkaError as e:
            raise GatewayUnavailable(
                f"cannot reach Kafka ({type(e).__name__}); start it with `wardwatch services up` "
                "or set WARDWATCH_KAFKA_BOOTSTRAP"
            ) from e
        self._producer = p
        self._server = await start_hl7_server(
            self._on_connection, self.host, self.port, limit=self.max_message_bytes
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log_event(log, "hl7.gateway.started", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        log_event(log, "hl7.gateway.stopped", **self.counts)

    async def serve_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------------ per connection
    def _on_connection(self, reader: Any, writer: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)

    async def _connection(self, reader: Any, writer: Any) -> None:
        peer = writer.get_extra_info("peername")
        peer_s = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.counts["connections"] += 1
        log_event(log, "hl7.connection.open", peer=peer_s)
        try:
            while True:
                frame = await self.read_frame(reader, peer_s)
                if frame is None:
                    return
                answer = await self.handle(*frame)
                writer.writeblock(answer.encode("utf-8"))
                await writer.drain()
        except GatewayUnavailable as e:
            self.counts["unacked"] += 1
            log_event(log, "hl7.unacked", logging.ERROR, peer=peer_s, error=str(e)[:200])
        except (ConnectionError, OSError) as e:
            log_event(log, "hl7.connection.lost", logging.WARNING, peer=peer_s, error=type(e).__name__)
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001 - one connection's fault never reaches another
            log_event(log, "hl7.connection.error", logging.ERROR, peer=peer_s, error=f"{type(e).__name__}")
        finally:
            writer.close()
            log_event(log, "hl7.connection.closed", peer=peer_s)

    async def read_frame(self, reader: Any, peer: str) -> tuple[bytes, bool] | None:
        """The next frame's content (after its last <VT>, or the whole frame when it has none) and
        whether it had a <VT>; None at EOF, on an idle timeout or a frame over the size limit."""
        try:
            block = await asyncio.wait_for(reader.readuntil(FS_CR), self.idle_timeout_s)
        except asyncio.IncompleteReadError as e:
            if e.partial.strip():
                log_event(log, "hl7.half_frame", logging.WARNING, peer=peer, bytes=len(e.partial))
            return None
        except TimeoutError:
            log_event(log, "hl7.idle_timeout", peer=peer)
            return None
        except asyncio.LimitOverrunError:
            log_event(log, "hl7.frame_too_large", logging.WARNING, peer=peer, limit=self.max_message_bytes)
            return None
        body = block[: -len(FS_CR)]
        start = body.rfind(VT)
        if start > 0:
            log_event(log, "hl7.bytes_before_frame", logging.WARNING, peer=peer, bytes=start)
        return (body[start + 1 :], True) if start >= 0 else (body, False)

    # ------------------------------------------------------------------ one message
    async def handle(self, raw: bytes, framed: bool = True) -> str:
        """The ACK text for one frame's content; :class:`GatewayUnavailable` when Kafka did not
        take its records or its dead letter."""
        t0 = time.perf_counter()
        text = ""
        msg = None
        try:
            text = decode(raw, framed)
            msg = parse(text)
            control_id, kind = check_header(msg, TAKEN)
            if kind in ADT_TAKEN:
                mapped: Mapped | MappedADT = map_adt(msg, control_id, kind[1], now=datetime.now(UTC))
            else:
                mapped = map_message(msg, now=datetime.now(UTC))
        except HL7Error as e:
            return await self._refuse(raw, text, msg, e)
        records = mapped.records()
        try:
            await self._produce(records)
        except GatewayUnavailable as unsent:
            if not never_sendable(unsent):
                raise
            # a record Kafka will never take (larger than its topic allows): answered AR and
            # dead-lettered, not left unanswered for the device to resend forever
            too_large = HL7Error(
                207, "a record of the message is larger than Kafka takes", ack="AR", code="undeliverable"
            )
            return await self._refuse(raw, text, msg, too_large)
        self.counts["AA"] += 1
        self.counts["records"] += len(records)
        counts = (
            {"vitals": len(mapped.vitals), "ecg": len(mapped.ecg), "skipped": mapped.skipped}
            if isinstance(mapped, Mapped)
            else {"adt": mapped.event}
        )
        log_event(
            log,
            "hl7.accepted",
            logging.DEBUG,
            patient=pid_ref(mapped.patient_id),
            **counts,
            took_ms=round((time.perf_counter() - t0) * 1000, 2),
        )
        return ack(msg)

    async def _refuse(self, raw: bytes, text: str, msg: Any, e: HL7Error) -> str:
        """Dead-letter a frame the gateway cannot use and return its AE/AR."""
        await self._deadletter(raw, text, e)
        self.counts[e.ack] += 1
        log_event(
            log,
            "hl7.refused",
            logging.WARNING,
            ack=e.ack,
            hl7_code=e.hl7_code,
            code=e.code,
            location=e.location,
        )
        return ack(msg if msg is not None else (text or None), e)

    async def _produce(self, records: list[tuple[str, str, dict[str, Any]]]) -> None:
        from aiokafka.errors import KafkaError

        p = self._producer
        if p is None:
            raise GatewayUnavailable("the gateway is not started")
        try:
            futures = [await p.send(t, orjson.dumps(v), key=k.encode()) for t, k, v in records]
            if len(futures) == 1:
                await asyncio.wait_for(futures[0], self.send_timeout_s)
            else:
                await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout_s)
        except (KafkaError, TimeoutError) as e:
            raise GatewayUnavailable(f"Kafka did not take the records ({type(e).__name__})") from e

    async def _deadletter(self, raw: bytes, text: str, e: HL7Error) -> None:
        pid = patient_of(text)
        detail = {"hl7_code": e.hl7_code, "ack": e.ack, "location": e.location}
        rec = deadletter_record(e.invalid_record(), SOURCE, raw, key=pid, detail=detail)
        try:
            await self._produce([(topics.DEADLETTER, pid or "", rec)])
        except GatewayUnavailable as unsent:
            if not never_sendable(unsent):
                raise
            # the deadletter topic is smaller than DEADLETTER_MAX_BYTES: the frame's head, its
            # size and hash, rather than no ACK and a device that resends the frame forever
            log_event(log, "hl7.deadletter_truncated", logging.ERROR, bytes=len(raw))
            keep = KEEP_WHEN_TOO_LARGE
            rec = deadletter_record(e.invalid_record(), SOURCE, raw, key=pid, detail=detail, keep_bytes=keep)
            await self._produce([(topics.DEADLETTER, pid or "", rec)])


def decode(raw: bytes, framed: bool = True) -> str:
    """A frame's content as text: AR 100 for a frame that had no <VT>, AR 102 when not UTF-8."""
    if not framed:
        raise HL7Error(100, "an MLLP frame without its start block <VT>", ack="AR")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HL7Error(102, "the message is not UTF-8 text", ack="AR") from None


def run_gateway(host: str, port: int) -> None:
    """Run the gateway until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await HL7Gateway(host, port).serve_forever(stop)

    asyncio.run(main())
