"""HL7 gateway throughput and ACK latency, against plain Kafka produce in the same run.

Run: ``.venv/bin/python bench/bench_hl7_gateway.py [--clients 32] [--messages 200] [--ecg-share 0]``
against running services (``wardwatch services up``). The gateways are ``wardwatch gateway hl7``
processes on free ports, started and stopped here.

Two measurements on the same broker, same machine, same minute, same concurrency:

* baseline: ``--clients`` coroutines, each sending its readings one at a time to ``vitals`` with
  aiokafka (``acks=all``) and waiting for the broker's acknowledgement before the next
  (what an ACK-after-Kafka gateway cannot beat);
* gateway: ``--clients`` MLLP connections (python-hl7's client), each sending the same readings
  as PCD-01 ORU^R01 one at a time and waiting for ACK AA (parse, map, validate, produce,
  Kafka's acknowledgement, ACK), to ``--gateways`` ``wardwatch gateway hl7`` processes (clients
  spread over them: a gateway per ward).

Also the pure mapping (``map_message``) per message on one core. Prints JSON: messages/s and
p50/p99 latency of each; the ratio is the result, absolute rates depend on the (shared) machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulators.vitals import ward_plan, ward_readings
from wardwatch import topics
from wardwatch.hl7.build import build_oru_r01, build_waveform_r01
from wardwatch.hl7.mllp import MLLPClient
from wardwatch.hl7.pcd01 import map_message
from wardwatch.kafka_io import start_aio_producer
from wardwatch.records.ecg import ecg_chunk_dict


def make_lanes(clients: int, per_client: int, ecg_share: float) -> list[list[dict[str, Any]]]:
    """One list of readings (or ECG chunks, tagged ``_ecg``) per client, in device-time order."""
    tag = uuid.uuid4().hex[:6]
    patients = ward_plan(clients, seed=5, prefix=f"BH{tag}")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    lanes: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for _, tick in ward_readings(patients, duration_s=per_client - 1, speed=1, start=start, seed=5):
        for i, r in enumerate(tick):
            lanes[i].append(r)
    n_ecg = int(round(clients * ecg_share))
    for i in range(n_ecg):  # these clients send one second of 250 Hz lead II per message instead
        lanes[i] = [
            {
                "_ecg": ecg_chunk_dict(
                    r["patient_id"],
                    r["bed"],
                    datetime.fromisoformat(r["ts"]),
                    250,
                    k,
                    "II",
                    [(j % 50) * 10 - 250 for j in range(250)],
                )
            }
            for k, r in enumerate(lanes[i])
        ]
    return lanes


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    lat = sorted(latencies)
    return {
        "messages": len(lat),
        "msgs_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 2),
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        "mean_ms": round(1000 * statistics.fmean(lat), 2),
    }


async def baseline(lanes: list[list[dict[str, Any]]]) -> dict[str, float]:
    p = await start_aio_producer(enable_idempotence=True, linger_ms=2)
    lat: list[float] = []

    async def lane(items: list[dict[str, Any]]) -> None:
        for r in items:
            rec = r.get("_ecg", r)
            topic = topics.ECG if "_ecg" in r else topics.VITALS
            t = time.perf_counter()
            await p.send_and_wait(topic, json.dumps(rec).encode(), key=rec["patient_id"].encode())
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(lane(items) for items in lanes))
    finally:
        await p.stop()
    return summary(lat, time.perf_counter() - t0)


def start_gateways(n: int) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    """``n`` ``wardwatch gateway hl7`` processes on free ports, each ready to accept."""
    procs, ports = [], []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        exe = str(Path(sys.executable).with_name("wardwatch"))
        procs.append(
            subprocess.Popen([exe, "gateway", "hl7", "--port", str(port)], stderr=subprocess.DEVNULL)
        )
        ports.append(port)
    for port in ports:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gateway on {port} did not start") from None
                time.sleep(0.2)
    return procs, ports


async def through_gateway(lanes: list[list[dict[str, Any]]], ports: list[int]) -> dict[str, float]:
    lat: list[float] = []
    refused = 0
    texts = [
        [
            build_waveform_r01(r["_ecg"], f"B{i}-{k}") if "_ecg" in r else build_oru_r01(r, f"B{i}-{k}")
            for k, r in enumerate(items)
        ]
        for i, items in enumerate(lanes)
    ]

    async def lane(msgs: list[str], port: int) -> None:
        nonlocal refused
        c = MLLPClient("127.0.0.1", port, timeout_s=60)
        try:
            for text in msgs:
                t = time.perf_counter()
                answer = await c.request(text)
                lat.append(time.perf_counter() - t)
                refused += "\rMSA|AA|" not in answer  # no parse: the client's CPU is not the gateway's
        finally:
            await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(lane(m, ports[i % len(ports)]) for i, m in enumerate(texts)))
    out = summary(lat, time.perf_counter() - t0)
    out["not_aa"] = refused
    return out


def mapping_per_message(lanes: list[list[dict[str, Any]]], n: int = 2000) -> dict[str, float]:
    flat = [r for items in lanes for r in items]
    texts = [build_waveform_r01(r["_ecg"], "M") if "_ecg" in r else build_oru_r01(r, "M") for r in flat][:n]
    t = time.perf_counter()
    for text in texts:
        map_message(text)
    per = (time.perf_counter() - t) / len(texts)
    return {"us_per_message": round(per * 1e6, 1), "messages_per_s_one_core": round(1 / per)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=32, help="concurrent MLLP connections / producers")
    ap.add_argument("--messages", type=int, default=200, help="messages per client")
    ap.add_argument("--ecg-share", type=float, default=0.0, help="share of clients sending 1 s ECG chunks")
    ap.add_argument("--gateways", type=int, default=1, help="gateway processes (clients spread over them)")
    a = ap.parse_args()
    lanes = make_lanes(a.clients, a.messages, a.ecg_share)
    # the same records twice would be duplicates downstream: each run makes its own patients
    base = asyncio.run(baseline(make_lanes(a.clients, a.messages, a.ecg_share)))
    procs, ports = start_gateways(a.gateways)
    try:
        gw = asyncio.run(through_gateway(lanes, ports))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
    result = {
        "clients": a.clients,
        "messages_per_client": a.messages,
        "ecg_share": a.ecg_share,
        "gateway_processes": a.gateways,
        "baseline_plain_produce": base,
        "gateway_ack_after_kafka": gw,
        "gateway_vs_baseline_rate": round(gw["msgs_per_s"] / base["msgs_per_s"], 3),
        "mapping": mapping_per_message(lanes),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
