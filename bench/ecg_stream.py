"""Per-chunk cost of the ECG agent's pure path (validate -> admit -> detect -> analyse), per core.

Run: ``.venv/bin/python bench/ecg_stream.py [--beds 20] [--seconds 60] [--leads 1|2]``.
Synthetic beds (all scenarios; lead II, and V1 with ``--leads 2``, the default), 1 s chunks at
360 Hz, labels from the synthetic truth (the classifier is benchmarked separately). Two modes:
the state rebuilt from its JSON (what a worker does after a restart or rebalance, and for every
chunk without the live-detector cache) and the agent's cached live detector. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from simulators.ecg_feed import feed_chunks
from simulators.ecg_synth import synth_beds
from streams.ecg.process import ecg_admit, ecg_analyse, ecg_detect, ecg_state_new
from wardwatch.records.ecg import ecg_validate


def run(beds: int, seconds: float, cached: bool, leads: int = 2) -> dict:
    feeds = synth_beds(beds, duration_s=seconds, seed=0, leads=leads)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    raws = [[json.dumps(c).encode() for c in feed_chunks(f, start)] for f in feeds]
    states = [ecg_state_new() for _ in feeds]
    live = [None] * len(feeds)
    n = 0
    state_bytes = 0
    t = time.process_time()
    for k in range(len(raws[0])):
        for i, f in enumerate(feeds):
            chunk = ecg_validate(raws[i][k], key=f.patient_id)
            st = states[i] if cached else json.loads(js) if (js := json.dumps(states[i])) else None
            ecg_admit(st, chunk, 0.0)
            det, live[i] = ecg_detect(st, chunk, stream=live[i] if cached else None)
            ecg_analyse(st, chunk, det, ["N"] * len(det.candidates))
            states[i] = st
            if not cached:
                state_bytes = max(state_bytes, len(js))
            n += 1
    cpu = time.process_time() - t
    return {"mode": "cached" if cached else "json_state", "leads": leads, "chunks": n,
            "cpu_s": round(cpu, 2), "chunks_per_cpu_s": round(n / cpu, 1),
            "realtime_beds_per_core": round(n / cpu, 1),  # 1 chunk = 1 s of one bed
            **({"max_state_bytes": state_bytes} if not cached else {})}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beds", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--leads", type=int, choices=(1, 2), default=2,
                    help="2: also measure lead II alone in the same run, as the baseline")
    a = ap.parse_args()
    out = [run(a.beds, a.seconds, cached=c, leads=n) for n in sorted({1, a.leads}) for c in (False, True)]
    if a.leads == 2:  # the second lead's cost, against the one-lead path measured in the same run
        by = {(r["leads"], r["mode"]): r["chunks_per_cpu_s"] for r in out}
        out.append({"two_lead_speed_vs_one_lead": {
            m: round(by[(2, m)] / by[(1, m)], 3) for m in ("json_state", "cached")}})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
