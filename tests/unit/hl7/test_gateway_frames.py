"""The gateway's framing and decoding of raw bytes (no Kafka needed): what any byte stream becomes."""

import asyncio
from datetime import UTC, datetime, timedelta

from hl7.mllp.streams import HL7StreamReader
from hypothesis import given, settings
from hypothesis import strategies as st

from wardwatch.hl7.build import build_oru_r01, build_waveform_r01
from wardwatch.hl7.gateway import HL7Gateway, decode
from wardwatch.hl7.pcd01 import HL7Error, ack, ack_code, map_message, parse
from wardwatch.records.ecg import ecg_chunk_dict

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
GOOD = build_oru_r01({"patient_id": "P1", "bed": "B1", "ts": "2026-12-05T11:59:00+00:00", "hr_bpm": 70}, "C1")
WAVE = build_waveform_r01(
    ecg_chunk_dict(
        "P1", "B1", NOW - timedelta(seconds=5), 100, 0, "II", [5] * 100, lead2="V1", ecg2_uv=[-5] * 100
    ),
    "C2",
)


def frames_of(chunks: list[bytes], limit: int = 4096) -> list[tuple[bytes, bool]]:
    """Every frame the gateway reads from a connection that sends ``chunks`` and closes."""

    async def run():
        reader = HL7StreamReader(limit=limit)
        for c in chunks:
            reader.feed_data(c)
        reader.feed_eof()
        gw = HL7Gateway(max_message_bytes=limit, idle_timeout_s=5)
        out = []
        while (f := await gw.read_frame(reader, "test")) is not None:
            out.append(f)
        return out

    return asyncio.run(run())


def answer(raw: bytes, framed: bool) -> str:
    """What the gateway answers (mapping only: the Kafka step is the integration test's)."""
    msg = None
    try:
        msg = parse(decode(raw, framed))
        map_message(msg, now=NOW)
    except HL7Error as e:
        return ack(msg if msg is not None else None, e)
    return ack(msg)


def test_a_two_lead_waveform_frame_split_anywhere_is_read_whole_and_answered_aa():
    data = b"\x0b" + WAVE.encode() + b"\x1c\r"
    for cut in (1, 7, len(data) // 2, len(data) - 1):
        frames = frames_of([data[:cut], data[cut:]])
        assert frames == [(WAVE.encode(), True)] and ack_code(answer(*frames[0])) == "AA"


def test_bytes_before_the_start_block_do_not_cost_the_message():
    frames = frames_of([b"\x00junk", b"\x0b" + GOOD.encode() + b"\x1c\r"])
    assert frames == [(GOOD.encode(), True)]
    assert ack_code(answer(*frames[0])) == "AA"


def test_a_frame_without_start_block_is_rejected():
    ((raw, framed),) = frames_of([b"not hl7 at all\x1c\r"])
    assert not framed and ack_code(answer(raw, framed)) == "AR"


def test_half_frame_and_oversize_frame_end_the_connection():
    assert frames_of([b"\x0b" + GOOD.encode()[:40]]) == []
    assert frames_of([b"\x0b" + b"A" * 5000 + b"\x1c\r"], limit=1024) == []


def test_non_utf8_is_rejected():
    ((raw, framed),) = frames_of([b"\x0bMSH|^~\\&|\xff\xfe\x1c\r"])
    assert ack_code(answer(raw, framed)) == "AR"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=60),
            st.sampled_from(
                [
                    b"\x0b",
                    b"\x1c\r",
                    b"\x1c",
                    b"\r",
                    GOOD.encode(),
                    GOOD.encode()[:50],
                    WAVE.encode(),
                    WAVE.encode()[:400],
                ]
            ),
        ),
        max_size=12,
    )
)
def test_any_byte_stream_gives_frames_each_answered_aa_ae_or_ar(chunks):
    for raw, framed in frames_of(chunks, limit=2048):
        assert ack_code(answer(raw, framed)) in ("AA", "AE", "AR")


def _cli(args: list[str], env: dict[str, str]):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "wardwatch.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_gateway_and_alert_sender_exit_69_without_kafka_and_2_on_bad_options():
    env = {"WARDWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{_free_port()}"}
    r = _cli(["gateway", "hl7", "--port", "0"], env)
    assert r.returncode == 69 and "cannot reach Kafka" in r.stderr and "Traceback" not in r.stderr
    r = _cli(["alerts", "hl7", "--to", "127.0.0.1:2575", "--connect-timeout", "1"], env)
    assert r.returncode == 69 and "cannot reach Kafka" in r.stderr and "Traceback" not in r.stderr
    r = _cli(["alerts", "hl7", "--to", "pager:notaport"], env)
    assert r.returncode == 2 and "expected HOST:PORT" in r.stderr
    r = _cli(
        ["replay", "ecg-synth", "--beds", "1", "--seconds", "2", "--hl7", f"127.0.0.1:{_free_port()}"], env
    )
    assert r.returncode == 69 and "no HL7 gateway at" in r.stderr and "Traceback" not in r.stderr
    r = _cli(["replay", "ecg-synth", "--hl7", "gw:"], env)
    assert r.returncode == 2 and "expected HOST:PORT" in r.stderr


def test_a_rejected_frame_whose_dead_letter_is_too_large_is_answered_with_the_frames_head_kept():
    """A deadletter topic smaller than DEADLETTER_MAX_BYTES: the gateway would otherwise answer
    nothing (Kafka did not take the dead letter) and the device would resend the frame forever.
    The dead letter goes again with the frame's head, size and hash, and the frame is answered."""
    import base64
    import hashlib
    import json

    from aiokafka.errors import MessageSizeTooLargeError

    from wardwatch.hl7.gateway import GatewayUnavailable
    from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE

    sent: list[dict] = []

    async def produce(records):
        for _topic, _key, rec in records:
            if len(json.dumps(rec)) > 1_000_000:
                try:
                    raise MessageSizeTooLargeError()
                except MessageSizeTooLargeError as e:
                    raise GatewayUnavailable("Kafka did not take the records") from e
            sent.append(rec)

    gw = HL7Gateway()
    gw._produce = produce
    raw = b"MSH|" + b"x" * 900_000  # not a message: rejected, dead-lettered
    acked = asyncio.run(gw.handle(raw, True))
    assert ack_code(acked) in ("AR", "AE")
    (dl,) = sent
    assert base64.b64decode(dl["original_b64"]) == raw[:KEEP_WHEN_TOO_LARGE]
    assert (dl["original_truncated"], dl["original_bytes"]) == (True, len(raw))
    assert dl["original_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_message_whose_record_kafka_will_never_take_is_answered_ar_and_dead_lettered():
    """A record larger than its topic allows: before, no ACK (Kafka did not take it) and the
    device resent the frame forever; now AR 207 and the frame on the dead-letter topic."""
    from aiokafka.errors import MessageSizeTooLargeError

    from wardwatch.hl7.gateway import GatewayUnavailable

    sent: list[tuple[str, dict]] = []

    async def produce(records):
        for topic, _key, rec in records:
            if topic != "deadletter":
                try:
                    raise MessageSizeTooLargeError()
                except MessageSizeTooLargeError as e:
                    raise GatewayUnavailable("Kafka did not take the records") from e
            sent.append((topic, rec))

    gw = HL7Gateway()
    gw._produce = produce
    acked = asyncio.run(gw.handle(GOOD.encode(), True))
    assert ack_code(acked) == "AR" and "207" in acked
    ((topic, dl),) = sent
    assert (topic, dl["code"]) == ("deadletter", "undeliverable")
    assert gw.counts["AR"] == 1 and gw.counts["AA"] == 0
