"""The HL7 gateway against the real Kafka, with a real MLLP client (python-hl7's asyncio streams).

In one run: a PCD-01 vitals message and a waveform message get ACK AA and their records are on
``vitals`` / ``ecg``; a message with an unknown unit gets AE with an ERR 103 and its raw bytes are
on ``deadletter``; a garbage frame gets AR (and a dead letter), bytes before a frame's <VT> do not
cost the message after them, a half frame and a dropped connection leave the server serving other
connections.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from simulators.vitals import ward_plan
from wardwatch import topics
from wardwatch.hl7.build import build_oru_r01, build_waveform_r01
from wardwatch.hl7.gateway import HL7Gateway
from wardwatch.hl7.mllp import MLLPClient
from wardwatch.hl7.pcd01 import ack_code
from wardwatch.hl7.simulate import run_hl7_feed_async
from wardwatch.kafka_io import consume, end_offsets
from wardwatch.records.ecg import ecg_chunk_dict

pytestmark = pytest.mark.integration


async def _raw_exchange(port: int, data: bytes, answers: int) -> list[bytes]:
    """Write raw bytes on a new connection and read ``answers`` MLLP frames back."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    await w.drain()
    out = [await asyncio.wait_for(r.readuntil(b"\x1c\r"), 30) for _ in range(answers)]
    w.close()
    return out


def _read_range(tp, start: int, end: int) -> list[tuple[int, bytes | None, bytes]]:
    """The records of ``tp`` at offsets ``[start, end)``: (offset, key, value)."""
    from kafka import KafkaConsumer

    from wardwatch.kafka_io import client_config

    out: list[tuple[int, bytes | None, bytes]] = []
    if start >= end:
        return out
    c = KafkaConsumer(**client_config(), enable_auto_commit=False)
    try:
        c.assign([tp])
        c.seek(tp, start)
        while len(out) < end - start:
            batch = c.poll(timeout_ms=2000).get(tp, [])
            assert batch, f"records {start}-{end} of {tp} not readable"
            out += [(m.offset, m.key, m.value) for m in batch if m.offset < end]
    finally:
        c.close()
    return out


def test_gateway_acks_after_kafka_refuses_bad_messages_and_survives_garbage(services):
    pid = "HL7-" + uuid.uuid4().hex[:8]
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    reading = {
        "patient_id": pid,
        "bed": "W9-01",
        "ts": ts.isoformat(),
        "hr_bpm": 91,
        "spo2_pct": 95,
        "rr_bpm": 22,
        "sbp_mmhg": 104,
        "dbp_mmhg": 66,
        "temp_c": 38.3,
    }
    chunk = ecg_chunk_dict(pid, "W9-01", ts, 250, 0, "II", [(i % 25) * 8 - 100 for i in range(250)])
    good = build_oru_r01(reading, "C-1")
    wave = build_waveform_r01(chunk, "C-2")
    bad_unit = build_oru_r01({**reading, "ts": (ts + timedelta(seconds=1)).isoformat()}, "C-3").replace(
        "268192^MDC_DIM_DEGC^MDC", "999999^MDC_DIM_KELVIN_ISH^MDC"
    )
    later = build_oru_r01({**reading, "ts": (ts + timedelta(seconds=2)).isoformat(), "hr_bpm": 93}, "C-4")
    start = end_offsets([topics.VITALS, topics.ECG, topics.DEADLETTER])

    async def scenario() -> dict[str, str]:
        gw = HL7Gateway("127.0.0.1", 0)
        await gw.start()
        answers: dict[str, str] = {}
        try:
            c = MLLPClient("127.0.0.1", gw.port, timeout_s=30)
            answers["good"] = await c.request(good)
            answers["wave"] = await c.request(wave)
            answers["bad_unit"] = await c.request(bad_unit)
            # garbage: a frame without <VT>, then junk before a valid frame, on another connection
            frames = await _raw_exchange(
                gw.port, b"\x00\xff not hl7 \x1c\r" + b"junk\x0b" + later.encode() + b"\x1c\r", 2
            )
            answers["garbage"], answers["after_junk"] = (f.decode("utf-8", "replace") for f in frames)
            # a half frame, then the connection drops
            _r, w = await asyncio.open_connection("127.0.0.1", gw.port)
            w.write(b"\x0bMSH|^~\\&|half")
            await w.drain()
            w.close()
            await asyncio.sleep(0.2)
            # the first connection still works
            answers["still"] = await c.request(good.replace("|C-1|", "|C-5|"))
            await c.close()
            # the HL7 device simulator: 6 beds, 4 ticks, over 3 connections
            sim = await run_hl7_feed_async(
                ward_plan(6, prefix=pid + "S"),
                "127.0.0.1",
                gw.port,
                duration_s=3,
                speed=60,
                realtime=False,
                connections=3,
            )
            answers["sim"] = str(sim)
            answers["counts"] = str(gw.counts)
        finally:
            await gw.stop()
        return answers

    a = asyncio.run(scenario())
    assert ack_code(a["good"]) == "AA" and "MSA|AA|C-1" in a["good"]
    assert ack_code(a["wave"]) == "AA"
    assert (
        ack_code(a["bad_unit"]) == "AE"
        and "\rERR||OBX^7^6^1|103^Table value not found^HL70357|E" in a["bad_unit"]
    )
    assert ack_code(a["garbage"]) == "AR" and "|100^" in a["garbage"]
    assert ack_code(a["after_junk"]) == "AA" and "MSA|AA|C-4" in a["after_junk"]
    assert ack_code(a["still"]) == "AA"
    assert a["sim"] == str({"sent": 24, "AA": 24, "resent": 0, "lost": 0})

    sim: list[dict] = []
    got: dict[str, list[dict]] = {topics.VITALS: [], topics.ECG: [], topics.DEADLETTER: []}

    def done(_seen) -> bool:
        return (
            len(got[topics.VITALS]) >= 3
            and got[topics.ECG]
            and len(got[topics.DEADLETTER]) >= 2
            and len(sim) >= 24
        )

    for topic, key, value in consume(
        [topics.VITALS, topics.ECG, topics.DEADLETTER],
        start=start,
        timeout_s=30,
        stop=lambda s: bool(done(s)),
    ):
        if isinstance(value, dict) and topic == topics.VITALS and key.startswith(pid + "S"):
            sim.append(value)
        elif isinstance(value, dict) and (
            key == pid or (topic == topics.DEADLETTER and value.get("source_topic") == "hl7")
        ):
            got[topic].append(value)
    vitals = sorted(got[topics.VITALS], key=lambda v: v["ts"])
    assert [v["hr_bpm"] for v in vitals] == [91.0, 91.0, 93.0]  # C-1, its re-send C-5, C-4
    assert vitals[0] == {**reading, **{k: float(v) for k, v in reading.items() if isinstance(v, int)}}
    (ecg,) = got[topics.ECG]
    assert ecg["ecg_uv"] == chunk["ecg_uv"] and ecg["fs_hz"] == 250 and ecg["lead"] == "II"
    dl = {d["code"]: d for d in got[topics.DEADLETTER]}
    assert base64.b64decode(dl["wrong_unit"]["original_b64"]).decode() == bad_unit
    assert dl["wrong_unit"]["key"] == pid and dl["wrong_unit"]["detail"]["hl7_code"] == 103
    assert dl["malformed"]["detail"]["ack"] == "AR"
    assert len(sim) == 24 and {v["bed"] for v in sim} == {f"W1-{b:02d}" for b in range(1, 7)}


def test_alert_events_go_out_as_oru_r40_and_are_committed_after_the_ack(services, mllp_receiver):
    """``wardwatch alerts hl7``'s loop (the subscribers' delivery loop with the MLLP transport):
    the receiver first drops the connection (no ACK: retried), then ACKs AA; the offset is
    committed only after that ACK; an event it answers AR is dead-lettered and the loop goes on."""
    import threading
    import time

    from kafka import KafkaConsumer, TopicPartition

    from wardwatch.hl7.pcd04 import R40Transport
    from wardwatch.kafka_io import client_config, make_producer, send
    from wardwatch.subscribers.delivery import DeliveryConfig, DeliveryLoop
    from wardwatch.subscribers.retry import RetryPolicy

    run = uuid.uuid4().hex[:8]
    bed = f"HL7-{run}"
    rx = mllp_receiver(["drop", "AA", "AR"])
    group = f"wardwatch-hl7-test-{run}"
    events = [
        {
            "event_id": f"{run}-e{i}",
            "alert_id": f"al-{run}",
            "type": kind,
            "patient_id": f"P-{run}",
            "bed": bed,
            "source": "news2",
            "priority": "high",
            "ts": datetime.now(UTC).isoformat(),
            "onset_ts": datetime.now(UTC).isoformat(),
            "message": f"NEWS2 {i}",
            "evidence": {"score": 7},
        }
        for i, kind in enumerate(["raised", "acknowledged"])
    ]
    p = make_producer()
    metas = [send(p, topics.ALERTS, e["patient_id"], e).get(timeout=30) for e in events]
    p.close()
    start = end_offsets([topics.DEADLETTER])

    cfg = DeliveryConfig(
        group_id=group, beds=frozenset({bed}), from_beginning=True, policy=RetryPolicy(base_s=0.2, max_s=1.0)
    )
    loop = DeliveryLoop(cfg, R40Transport("127.0.0.1", rx.port, timeout_s=5))
    loop.connect()
    t = threading.Thread(target=loop.run, daemon=True)
    t.start()
    c = KafkaConsumer(**client_config(), group_id=group, enable_auto_commit=False)
    tp = TopicPartition(topics.ALERTS, metas[-1].partition)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (c.committed(tp) or 0) <= metas[-1].offset:
            time.sleep(0.3)
        committed = c.committed(tp) or 0
        # past our last event; anything after it on the partition (another test's worker may
        # write alerts meanwhile) is for other beds: the loop had nothing to send for it
        assert committed >= metas[-1].offset + 1
        later = [json.loads(v) for _, _, v in _read_range(tp, metas[-1].offset + 1, committed)]
        assert not [e for e in later if isinstance(e, dict) and e.get("bed") == bed]
    finally:
        loop.stop()
        t.join(30)
        c.close()
    # the first event twice (dropped, then ACKed AA), the second once (AR)
    assert len(rx.received) == 3
    assert [m.split("\r")[0].split("|")[9] for m in rx.received] == [f"{run}-e0", f"{run}-e0", f"{run}-e1"]
    assert "|start|" in rx.received[1] and "|acknowledged|" in rx.received[2]
    assert loop.counts["delivered"] == 1 and loop.counts["refused"] == 1 and loop.counts["retries"] == 1
    dls = [
        v
        for _, _, v in consume(
            [topics.DEADLETTER],
            start=start,
            timeout_s=15,
            stop=lambda s: any(
                isinstance(v, dict) and v.get("detail", {}).get("event_id") == f"{run}-e1" for _, v in s
            ),
        )
        if isinstance(v, dict) and v.get("detail", {}).get("event_id") == f"{run}-e1"
    ]
    assert dls and dls[0]["code"] == "rejected" and "ACK AR" in dls[0]["reason"]
    assert dls[0]["detail"]["subscriber"] == "hl7"


def test_wfdb_replay_over_hl7_gives_two_lead_chunks_and_charted_vitals_are_carried_or_refused(services):
    """``wardwatch replay ecg --hl7``'s sender: 3 s of MIT-BIH record 101 (MLII + V1) as PCD-01
    MA messages through the gateway arrive on ``ecg`` as two-lead chunks with the record's exact
    samples; a reading with MAP, O2, ACVPU and scale 2 arrives whole; an ACVPU of ``X`` is AE
    with ERR 103 and dead-lettered with its raw message."""
    from simulators.ecg_replay import replay_feeds
    from wardwatch.hl7.simulate import run_hl7_ecg_async
    from wardwatch.settings import shared_data

    run = uuid.uuid4().hex[:8]
    feeds = replay_feeds(shared_data("mitdb-ds1"), 1, only=["101"], seconds=3, prefix=f"HL7R{run}")
    pid = feeds[0].patient_id
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    charted = {
        "patient_id": pid,
        "bed": feeds[0].bed,
        "ts": ts.isoformat(),
        "spo2_pct": 89,
        "spo2_scale": 2,
        "sbp_mmhg": 118,
        "dbp_mmhg": 70,
        "map_mmhg": 86,
        "o2": "oxygen",
        "acvpu": "C",
    }
    bad = build_oru_r01({**charted, "ts": (ts + timedelta(seconds=1)).isoformat()}, "R-2")
    bad = bad.replace("|C||||||R|", "|X||||||R|")  # ACVPU "X"
    assert bad.count("|X||||||R|") == 1
    start = end_offsets([topics.VITALS, topics.ECG, topics.DEADLETTER])

    async def scenario() -> tuple[dict, dict, list[str]]:
        gw = HL7Gateway("127.0.0.1", 0)
        await gw.start()
        try:
            stats, counts = await run_hl7_ecg_async(feeds, "127.0.0.1", gw.port, speed=0, connections=1)
            c = MLLPClient("127.0.0.1", gw.port, timeout_s=30)
            answers = [await c.request(build_oru_r01(charted, "R-1")), await c.request(bad)]
            await c.close()
        finally:
            await gw.stop()
        return stats.__dict__, counts, answers

    stats, counts, answers = asyncio.run(scenario())
    assert stats["chunks"] == 3 and counts == {"sent": 3, "AA": 3, "resent": 0, "lost": 0}
    assert ack_code(answers[0]) == "AA"
    assert ack_code(answers[1]) == "AE" and "|103^Table value not found^HL70357|E" in answers[1]

    got: dict[str, list[dict]] = {topics.VITALS: [], topics.ECG: [], topics.DEADLETTER: []}
    for topic, key, value in consume(
        [topics.VITALS, topics.ECG, topics.DEADLETTER],
        start=start,
        timeout_s=30,
        stop=lambda _s: len(got[topics.ECG]) >= 3 and all(got.values()),
    ):
        if key == pid and isinstance(value, dict):
            got[topic].append(value)
    chunks = sorted(got[topics.ECG], key=lambda v: v["ts"])
    assert [(c["lead"], c["lead2"], c["fs_hz"]) for c in chunks] == [("II", "V1", 360.0)] * 3
    assert [v for c in chunks for v in c["ecg_uv"]] == feeds[0].signal_uv[:1080].tolist()
    assert [v for c in chunks for v in c["ecg2_uv"]] == feeds[0].signal2_uv[:1080].tolist()
    (vitals,) = got[topics.VITALS]
    assert vitals == {**charted, "spo2_pct": 89.0, "sbp_mmhg": 118.0, "dbp_mmhg": 70.0, "map_mmhg": 86.0}
    (dl,) = got[topics.DEADLETTER]
    assert dl["code"] == "bad_value" and dl["detail"]["location"] == "OBX^7^5^1"
    assert base64.b64decode(dl["original_b64"]).decode() == bad


def test_adt_admit_and_discharge_go_to_admissions_after_kafka_took_them(services):
    """ADT^A01 and ADT^A03 from a hospital's ADT feed: ACK AA once the admission and the discharge
    record are on ``admissions`` (which the workers apply: tests/integration/
    test_patient_discharge.py); an admission of a sex our record cannot hold gets AE 103 and a
    dead letter."""
    pid = "ADT-" + uuid.uuid4().hex[:8]
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = (now - timedelta(minutes=5)).strftime("%Y%m%d%H%M%S+0000")
    later = (now - timedelta(minutes=1)).strftime("%Y%m%d%H%M%S+0000")

    def adt(event: str, control: str, sex: str = "F", time: str = stamp) -> str:
        return "\r".join(
            [
                f"MSH|^~\\&|ADT1|HOSP|WARDWATCH|ICU|{time}||ADT^{event}^ADT_A01|{control}|P|2.5",
                f"EVN|{event}|{time}",
                f"PID|1||{pid}^^^HOSP^MR||DOE^JANE||19500301|{sex}",
                "PV1|1|I|ICU^01^A",
            ]
        )

    start = end_offsets([topics.ADMISSIONS, topics.DEADLETTER])

    async def scenario() -> dict[str, str]:
        gw = HL7Gateway("127.0.0.1", 0)
        await gw.start()
        try:
            c = MLLPClient("127.0.0.1", gw.port, timeout_s=30)
            answers = {
                "admit": await c.request(adt("A01", "A-1")),
                "unknown_sex": await c.request(adt("A01", "A-2", sex="U")),
                "discharge": await c.request(adt("A03", "A-3", time=later)),
            }
            await c.close()
        finally:
            await gw.stop()
        return answers

    a = asyncio.run(scenario())
    assert ack_code(a["admit"]) == "AA" and "MSA|AA|A-1" in a["admit"] and "ACK^A01" in a["admit"]
    assert ack_code(a["unknown_sex"]) == "AE" and "|103^" in a["unknown_sex"]
    assert ack_code(a["discharge"]) == "AA" and "ACK^A03" in a["discharge"]
    got: dict[str, list] = {topics.ADMISSIONS: [], topics.DEADLETTER: []}
    for topic, key, value in consume(
        [topics.ADMISSIONS, topics.DEADLETTER],
        start=start,
        timeout_s=30,
        stop=lambda _s: len(got[topics.ADMISSIONS]) >= 2 and len(got[topics.DEADLETTER]) >= 1,
    ):
        if key == pid:
            got[topic].append(value)
    admit_ts = (now - timedelta(minutes=5)).isoformat()
    age = now.year - 1950 - ((now.month, now.day) < (3, 1))
    assert got[topics.ADMISSIONS] == [
        {"patient_id": pid, "admit_ts": admit_ts, "age_years": age, "sex": "F"},
        {"patient_id": pid, "discharge_ts": (now - timedelta(minutes=1)).isoformat()},
    ]
    [dl] = got[topics.DEADLETTER]
    assert (dl["code"], dl["source_topic"], dl["detail"]["hl7_code"]) == ("bad_value", "hl7", 103)
