"""Vitals pipeline throughput, as a ratio to plain Kafka measured in the same run.

Run: ``.venv/bin/python bench/bench_vitals_pipeline.py [--beds 500] [--readings 20]``
against running services (``wardwatch services up``) and a running ``wardwatch worker``.

Two measurements on the same broker, same machine, same minute:

* baseline: the same readings produced to a scratch topic and consumed back by a plain consumer
  (what Kafka alone costs for the round trip);
* pipeline: the readings produced to ``vitals`` and consumed back as their ``vitals`` points on
  ``influx.points`` (validation, table state, NEWS2, conditions, points, through the worker).

Also the pure per-reading path (validate -> state -> NEWS2 -> condition -> points) per core,
against ``json.loads`` alone. Prints JSON; the ratios are the result, the absolute rates depend
on the (shared, noisy) machine.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from rich.progress import Progress

from models.vitals.scoring import vitals_step
from simulators.vitals import ward_plan, ward_readings
from wardwatch import topics
from wardwatch.kafka_io import consume, end_offsets, json_bytes, make_producer, send
from wardwatch.records.points import unpack_points
from wardwatch.records.vitals import vitals_order_check, vitals_validate


def make_readings(beds: int, per_bed: int, tag: str) -> list[dict]:
    patients = ward_plan(beds, seed=11, prefix=f"BENCH{tag}")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    out: list[dict] = []
    for _, tick in ward_readings(patients, duration_s=per_bed - 1, speed=5, start=start, seed=11):
        out.extend(tick)
    return out


def roundtrip(readings: list[dict], produce_topic: str, read_topic: str, match) -> float:
    start = end_offsets([read_topic])
    p = make_producer(linger_ms=20)
    t = time.perf_counter()
    for r in readings:
        send(p, produce_topic, r["patient_id"], r)
    p.flush()
    want = len(readings)
    seen = {"n": 0}  # read by the stop callback as it grows
    for _, _, v in consume([read_topic], start=start, timeout_s=600, stop=lambda _: seen["n"] >= want):
        if isinstance(v, dict):  # a point, a batch of points (streams/outputs.py) or a reading
            seen["n"] += sum(1 for x in unpack_points(v) if match(x))
    got = seen["n"]
    elapsed = time.perf_counter() - t
    p.close()
    if got < want:
        raise RuntimeError(f"only {got}/{want} came back from {read_topic}")
    return elapsed


def pure_path(readings: list[dict]) -> tuple[float, float]:
    raws = [(r["patient_id"], json_bytes(r)) for r in readings]
    t = time.process_time()
    for _, raw in raws:
        json.loads(raw)
    base = time.process_time() - t
    states: dict[str, dict] = {}
    now = datetime.now(UTC)
    t = time.process_time()
    for key, raw in raws:
        r = vitals_validate(raw, key=key, now=now)
        st = states.get(key, {})
        vitals_order_check(r, st.get("last_ts"), st.get("last_reading"))
        st, _, _ = vitals_step(st, r)  # the agent's own step (without the deterioration model)
        states[key] = st
    return base, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beds", type=int, default=500)
    ap.add_argument("--readings", type=int, default=20, help="readings per bed")
    a = ap.parse_args()
    scratch = f"bench.passthrough.{uuid.uuid4().hex[:6]}"
    topics.ensure_topics((scratch,))
    with Progress() as progress:
        task = progress.add_task("benchmark", total=3)
        base_r = make_readings(a.beds, a.readings, "B")
        base_s = roundtrip(base_r, scratch, scratch, lambda v: True)
        progress.advance(task)
        # warm-up: the worker must own its partitions (a rebalance can take a session timeout)
        warm = make_readings(20, 2, uuid.uuid4().hex[:4])
        warm_ids = {r["patient_id"] for r in warm}
        roundtrip(
            warm,
            topics.VITALS,
            topics.POINTS,
            lambda v: v.get("measurement") == "vitals" and v["tags"].get("patient") in warm_ids,
        )
        pipe_r = make_readings(a.beds, a.readings, uuid.uuid4().hex[:4])
        ids = {r["patient_id"] for r in pipe_r}
        pipe_s = roundtrip(
            pipe_r,
            topics.VITALS,
            topics.POINTS,
            lambda v: v.get("measurement") == "vitals" and v["tags"].get("patient") in ids,
        )
        progress.advance(task)
        json_s, path_s = pure_path(pipe_r)
        progress.advance(task)
    n = len(pipe_r)
    print(
        json.dumps(
            {
                "readings": n,
                "beds": a.beds,
                "kafka_roundtrip_per_s": round(n / base_s),
                "pipeline_per_s": round(n / pipe_s),
                "pipeline_vs_kafka_ratio": round(base_s / pipe_s, 3),
                "pure_path_per_s_per_core": round(n / path_s),
                "json_loads_per_s_per_core": round(n / json_s),
                "pure_path_vs_json_ratio": round(json_s / path_s, 4),
                "beds_at_1hz_one_worker": round(n / pipe_s),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
