"""Benchmark: beats classified per second per core, batched TFLite classifier vs one Keras predict per beat.

Both run in the same process on the same real beats (MIT-BIH DS1 record 208 streamed through
``ECGBeatStream``), single-threaded, so the numbers are per core. Run:

    .venv/bin/python bench/bench_ecg_classifier.py [--batch 256] [--beats 20000] [--naive-beats 200]
        [--leads 1]

``--leads 2`` (default) measures the two-lead model on beats streamed with the record's second
lead (what a two-lead monitor gets), ``--leads 1`` the single-lead model.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256, help="beats per predict call (streaming batch)")
    ap.add_argument("--beats", type=int, default=20000, help="beats for the batched classifier")
    ap.add_argument(
        "--naive-beats", type=int, default=200, help="beats for the one-predict-per-beat baseline"
    )
    ap.add_argument("--record", default=None, help="WFDB record path (default DS1 208)")
    ap.add_argument("--leads", type=int, choices=(1, 2), default=2)
    args = ap.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    import models.ecg.nn  # noqa: F401  (registers the custom layers for load_model)
    from models.ecg.beats import stack_inputs
    from models.ecg.classify import DEFAULT_MODEL, DEFAULT_MODEL_2LEAD, BeatClassifier
    from models.ecg.evaluate import load_record, stream_record
    from wardwatch.settings import mitdb_ds1_dir

    rec = load_record(args.record or mitdb_ds1_dir() / "208")
    t0 = time.perf_counter()
    seconds = 300
    n_s = int(seconds * rec["fs"])
    two = args.leads == 2
    beats = stream_record(rec["signal"][:n_s], rec["fs"], signal2=rec["signal2"][:n_s] if two else None)
    t_stream = time.perf_counter() - t0
    wave, rr = stack_inputs(beats, two_lead=two)
    reps = int(np.ceil(args.beats / len(beats)))
    wave_all, rr_all = np.tile(wave, (reps, 1, 1))[: args.beats], np.tile(rr, (reps, 1))[: args.beats]

    clf = BeatClassifier(num_threads=1)
    clf.predict_proba(wave_all[: args.batch], rr_all[: args.batch])  # warm-up / allocate
    t0 = time.perf_counter()
    labels_fast = []
    for i in range(0, args.beats, args.batch):
        p = clf.predict_proba(wave_all[i : i + args.batch], rr_all[i : i + args.batch])
        labels_fast.append(np.argmax(p, axis=1))
    t_fast = time.perf_counter() - t0
    fast = args.beats / t_fast

    model = keras.models.load_model((DEFAULT_MODEL_2LEAD if two else DEFAULT_MODEL).with_suffix(".keras"))
    model.predict([wave_all[:1], rr_all[:1]], verbose=0)  # warm-up
    n = args.naive_beats
    t0 = time.perf_counter()
    labels_naive = [
        int(np.argmax(model.predict([wave_all[i : i + 1], rr_all[i : i + 1]], verbose=0))) for i in range(n)
    ]
    t_naive = time.perf_counter() - t0
    naive = n / t_naive
    agree = float(np.mean(np.concatenate(labels_fast)[:n] == np.array(labels_naive)))

    print(
        f"model {clf.version} ({args.leads} lead(s)); beats from record {rec['name']} "
        f"({len(beats)} beats in {seconds} s, "
        f"stream detect+features {len(beats) / t_stream:,.0f} beats/s)"
    )
    print(
        f"batched TFLite classifier (batch {args.batch}, 1 thread): {fast:,.0f} beats/s per core "
        f"({args.beats} beats)"
    )
    print(f"naive Keras model.predict per beat (1 thread):        {naive:,.1f} beats/s per core ({n} beats)")
    print(
        f"ratio: {fast / naive:,.0f}x   "
        f"(label agreement TFLite vs Keras on the naive beats: {100 * agree:.1f} %)"
    )


if __name__ == "__main__":
    main()
