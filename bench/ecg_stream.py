"""Per-chunk cost of the ECG agent's pure path (validate -> :func:`models.ecg.step.ecg_step`:
admit -> detect -> analyse), per core.

Run: ``.venv/bin/python bench/ecg_stream.py [--beds 20] [--seconds 60] [--leads 1|2]``.
Synthetic beds (all scenarios; lead II, and V1 with ``--leads 2``, the default), 1 s chunks at
360 Hz, every beat labelled N (the classifier is benchmarked separately); each second's chunks of
all beds go through one step call, as the agent batches them. Two modes:
the state rebuilt from its JSON (what a worker does after a restart or rebalance, and for every
chunk without the live-detector cache) and the agent's cached live detector. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from models.ecg.beats import BeatCandidate
from models.ecg.step import LiveDetector, ecg_step
from models.ecg.stream_state import ECGState, FamilyVotes, ecg_state_new
from simulators.ecg_feed import feed_chunks
from simulators.ecg_synth import synth_beds
from wardwatch.records.ecg import ecg_validate


class AllNormal:
    """Labels every beat N (stands in for the classifier)."""

    def predict(self, beats: Sequence[BeatCandidate], votes: Sequence[FamilyVotes]) -> tuple[list[str], None]:
        return ["N"] * len(beats), None


def run(beds: int, seconds: float, cached: bool, leads: int = 2) -> dict:
    feeds = synth_beds(beds, duration_s=seconds, seed=0, leads=leads)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    raws = [[json.dumps(c).encode() for c in feed_chunks(f, start)] for f in feeds]
    states: dict[str, ECGState] = {f.patient_id: ecg_state_new() for f in feeds}
    live: dict[str, LiveDetector] | None = {} if cached else None
    labeller = AllNormal()
    n = 0
    state_bytes = 0
    t = time.process_time()
    for k in range(len(raws[0])):
        chunks = [ecg_validate(raws[i][k], key=f.patient_id) for i, f in enumerate(feeds)]
        if not cached:  # what a worker does after a restart or rebalance: state from its JSON
            js = {pid: json.dumps(st) for pid, st in states.items()}
            states = {pid: json.loads(v) for pid, v in js.items()}
            state_bytes = max(state_bytes, *(len(v) for v in js.values()))
        ecg_step(states, chunks, labeller, 0.0, live=live).raise_errors()
        n += len(chunks)
    cpu = time.process_time() - t
    return {
        "mode": "cached" if cached else "json_state",
        "leads": leads,
        "chunks": n,
        "cpu_s": round(cpu, 2),
        "chunks_per_cpu_s": round(n / cpu, 1),
        "realtime_beds_per_core": round(n / cpu, 1),  # 1 chunk = 1 s of one bed
        **({"max_state_bytes": state_bytes} if not cached else {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beds", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--leads",
        type=int,
        choices=(1, 2),
        default=2,
        help="2: also measure lead II alone in the same run, as the baseline",
    )
    a = ap.parse_args()
    out = [run(a.beds, a.seconds, cached=c, leads=n) for n in sorted({1, a.leads}) for c in (False, True)]
    if a.leads == 2:  # the second lead's cost, against the one-lead path measured in the same run
        by = {(r["leads"], r["mode"]): r["chunks_per_cpu_s"] for r in out}
        out.append(
            {
                "two_lead_speed_vs_one_lead": {
                    m: round(by[(2, m)] / by[(1, m)], 3) for m in ("json_state", "cached")
                }
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
