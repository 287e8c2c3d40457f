"""HL7 gateway throughput and ACK latency, against plain Kafka produce, and its scaling with gateway
processes (a gateway per ward), all in one run.

Run: ``.venv/bin/python bench/bench_hl7_gateway.py [--clients 32] [--messages 200] [--ecg-share 0]
[--processes 2]`` against running services (``wardwatch services up``). The gateways are
``wardwatch gateway hl7`` processes on free ports, started and stopped here.

Measurements on the same broker, same machine, same run, same concurrency per ward:

* baseline: ``--clients`` coroutines, each sending its readings one at a time to ``vitals`` with
  aiokafka (``acks=all``) and waiting for the broker's acknowledgement before the next
  (what an ACK-after-Kafka gateway cannot beat);
* gateway, P = 1 and P = ``--processes``: P gateway processes, each fed by its own simulated
  ward (``--clients`` MLLP connections, python-hl7's client, in a process of its own so the load
  generator scales too), every connection sending its patients' readings as PCD-01 ORU^R01 one
  at a time and waiting for ACK AA (parse, map, validate, produce, Kafka's acknowledgement, ACK).
  Messages/s over all wards (first start to last end), latency, and the gateways' CPU per
  message (``/proc``), which says whether a gateway was CPU-bound.

Also the pure mapping (``map_message``) per message on one core. Prints JSON; the ratios are the
result, absolute rates depend on the (shared) machine, whose load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
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
    for i in range(n_ecg):  # these send one second of 250 Hz leads II + V1 (one MA) per message instead
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
                    lead2="V1",
                    ecg2_uv=[(j % 25) * 8 - 100 for j in range(250)],
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
        cmd = [sys.executable, "-m", "wardwatch.cli", "gateway", "hl7", "--port", str(port)]
        procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The pid of the Kafka broker ``wardwatch services up`` started, if that is what runs."""
    from wardwatch.services import kafka
    from wardwatch.settings import get_settings

    return kafka.pid(get_settings())


def texts_of(lanes: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [
        [
            build_waveform_r01(r["_ecg"], f"B{i}-{k}") if "_ecg" in r else build_oru_r01(r, f"B{i}-{k}")
            for k, r in enumerate(items)
        ]
        for i, items in enumerate(lanes)
    ]


async def drive(texts: list[list[str]], port: int) -> tuple[list[float], int]:
    """Every lane on its own MLLP connection to ``port``, one message at a time (wait for the ACK):
    each message's ACK latency, and how many were not answered AA."""
    lat: list[float] = []
    refused = 0

    async def lane(msgs: list[str]) -> None:
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

    await asyncio.gather(*(lane(m) for m in texts))
    return lat, refused


def ward_process(port: int, clients: int, messages: int, ecg_share: float, ready: Any, out: Any) -> None:
    """One simulated ward in its own process (so the load generator scales with the gateways):
    build its messages, wait for every ward to be ready, drive its gateway; report latencies and
    its start/end on the system-wide monotonic clock."""
    texts = texts_of(make_lanes(clients, messages, ecg_share))
    ready.wait()
    t0, c0 = time.monotonic(), time.process_time()
    lat, refused = asyncio.run(drive(texts, port))
    out.put((lat, refused, t0, time.monotonic(), time.process_time() - c0))


def through_gateways(processes: int, clients: int, messages: int, ecg_share: float) -> dict[str, Any]:
    """``processes`` gateway processes, each fed by its own ward (``clients`` connections in a
    process of its own): messages/s over all of them, from the first ward's start to the last
    ward's end, and the gateways' CPU seconds per message."""
    ctx = mp.get_context("spawn")
    procs, ports = start_gateways(processes)
    try:
        ready, out = ctx.Barrier(processes + 1), ctx.Queue()
        wards = [
            ctx.Process(target=ward_process, args=(port, clients, messages, ecg_share, ready, out))
            for port in ports
        ]
        for w in wards:
            w.start()
        broker = broker_pid()
        cpu0 = [cpu_s(p.pid) for p in procs]
        broker0 = cpu_s(broker) if broker else 0.0
        ready.wait()
        results = [out.get(timeout=1800) for _ in wards]
        cpu = sum(cpu_s(p.pid) - c for p, c in zip(procs, cpu0, strict=True))
        broker_cpu = cpu_s(broker) - broker0 if broker else None
        for w in wards:
            w.join(60)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
    lat = [x for r in results for x in r[0]]
    wall = max(r[3] for r in results) - min(r[2] for r in results)
    res: dict[str, Any] = summary(lat, wall)
    res["not_aa"] = sum(r[1] for r in results)
    res["gateway_cpu_ms_per_message"] = round(1000 * cpu / len(lat), 3)
    # how much CPU the machine gave: the gateways together, and the load generators
    res["gateway_cores_used"] = round(cpu / wall, 2)
    res["ward_client_cores_used"] = round(sum(r[4] for r in results) / wall, 2)
    if broker_cpu is not None:  # the local broker (``wardwatch services up``), when it is ours
        res["broker_cpu_ms_per_message"] = round(1000 * broker_cpu / len(lat), 3)
        res["broker_cores_used"] = round(broker_cpu / wall, 2)
    res["per_ward_msgs_per_s"] = [round(len(r[0]) / (r[3] - r[2]), 1) for r in results]
    return res


def mapping_per_message(lanes: list[list[dict[str, Any]]], n: int = 1000) -> dict[str, Any]:
    """Parse + map CPU time per message on one core (``process_time``: the CPU this process got,
    so other load on the machine does not count), vitals and ECG messages apart."""
    flat = [r for items in lanes for r in items]
    out: dict[str, Any] = {}
    for kind, rs in (
        ("vitals", [r for r in flat if "_ecg" not in r]),
        ("ecg_2_leads_250hz", [r for r in flat if "_ecg" in r]),
    ):
        if not rs:
            continue
        texts = [build_waveform_r01(r["_ecg"], "M") if "_ecg" in r else build_oru_r01(r, "M") for r in rs[:n]]
        t = time.process_time()
        for text in texts:
            map_message(text)
        per = (time.process_time() - t) / len(texts)
        out[kind] = {"cpu_us_per_message": round(per * 1e6, 1), "messages_per_cpu_s": round(1 / per)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=32, help="MLLP connections per ward (and producers)")
    ap.add_argument("--messages", type=int, default=200, help="messages per client")
    ap.add_argument("--ecg-share", type=float, default=0.0, help="share of clients sending 1 s ECG chunks")
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="P: measure 1 gateway process and P of them (each with its own ward) in this run",
    )
    a = ap.parse_args()
    load0 = os.getloadavg()
    # the same records twice would be duplicates downstream: each run makes its own patients
    base = asyncio.run(baseline(make_lanes(a.clients, a.messages, a.ecg_share)))
    gws = {p: through_gateways(p, a.clients, a.messages, a.ecg_share) for p in sorted({1, a.processes})}
    result: dict[str, Any] = {
        "clients_per_ward": a.clients,
        "messages_per_client": a.messages,
        "ecg_share": a.ecg_share,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load0],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "baseline_plain_produce": base,
        **{f"gateway_processes_{p}": r for p, r in gws.items()},
        "gateway_1_vs_baseline_rate": round(gws[1]["msgs_per_s"] / base["msgs_per_s"], 3),
        "mapping": mapping_per_message(make_lanes(a.clients, min(a.messages, 100), max(a.ecg_share, 0.25))),
    }
    if a.processes > 1:
        result[f"scaling_{a.processes}_vs_1"] = round(
            gws[a.processes]["msgs_per_s"] / gws[1]["msgs_per_s"], 3
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
