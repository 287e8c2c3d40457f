"""Alarm behaviour of the ECG stream path on WFDB records (what the agent would raise).

Runs every record in a folder through exactly the agent's step (1 s chunks,
:func:`models.ecg.step.ecg_step`: admit -> detect -> ``BeatClassifier.predict`` -> analyse) and scores the
VT alarm against the reference: an annotated VT episode is a run of >= 3 consecutive V beats at
>= 100 bpm in the ``.atr`` file; it is detected when a VT alarm starts between 1 s before its
first beat and 3 s after its last. VT alarms matching no episode are false. The VF / flutter
alarm is scored against ``[`` ... ``]`` episodes (its delay from onset), where an alarm still on
when an episode starts also catches it (delay 0: two episodes seconds apart share one alarm),
with its alarms inside VT episodes counted apart (a lethal alarm, not a false one). Also
reports every alarm source per hour (onsets and priority changes), the AF alarm by duration
against ``(AFIB`` rhythm annotations (Se, +P, and its time outside AF and atrial flutter) and
the share of time the noise alarm is on. Beside those, ANSI/AAMI EC57's episode and duration
statistics for VT and AF, gross and per record (``ec57``; :mod:`models.ecg.alarm_eval`): episode
Se / +P and duration Se / +P of the alarm's spans, and for AF also of the episodes the alarm
reports (from the onset in its raise to the offset in its clear, ``af_reported``). A VT episode
during which the VF alarm is on counts as caught (the VT alarm is chained under VF;
``detected_by_vf_alarm`` says how many).

Run: ``.venv/bin/python bench/ecg_alarms.py --records ../shared/data/mitdb-ds1 [--json]``;
``--condition NAME`` streams the records as a monitor would deliver them (a
``models/ecg/robustness.py`` condition on both leads, e.g. ``filter_noise_12db``).
Caveat: the committed classifier is trained on DS1, so on DS1 this measures the stream path and
the rules with an optimistic classifier, not generalisation.

Held out: ``--cv 4 [--seeds1 7,11,13,17,19] [--seeds2 7]`` trains the leave-records-out fold
models of ``wardwatch train ecg`` (single- and two-lead, the same folds and recipes; by default
the shipped recipes' seeds, ``train.SEEDS``: several seeds make an averaged ensemble) and runs
each record with the models of the fold that never saw it, once with the single-lead model only
and once with the two-lead model (records streamed with both leads): alarm-level figures on
patients the models never saw. ``--kinds two_lead`` runs only the two-lead one (the single-lead
fold model is still its fallback); ``--fold-models DIR`` keeps the fold models in DIR and reuses
them on the next run with the same folds and seeds, so a rule change is measured again without
training (the model card's command:
``bench/ecg_alarms.py --records ../shared/data/mitdb-ds1 --cv 4 --seeds1 7 --kinds two_lead
--fold-models /tmp/ecg-folds``).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track

from models.ecg import alarm_eval, robustness
from models.ecg.classify import BeatClassifier
from models.ecg.evaluate import load_record, record_names
from models.ecg.step import LiveDetector, ecg_step
from models.ecg.stream_state import ECGState
from simulators.ecg_feed import BedFeed, feed_chunks
from simulators.ecg_replay import load_feed
from wardwatch.records.ecg import ecg_validate

KINDS = ("single_lead", "two_lead")  #: held-out classifiers (--cv): one lead, or both leads


def monitor_feed(path: Path, seconds: float | None, condition: str | None) -> BedFeed:
    """The record as a feed, both leads passed through a :data:`robustness.CONDITIONS` entry
    (a monitor's filter, gain, mains, wander or noise) when ``condition`` names one."""
    feed = load_feed(path, "EVAL", "EVAL", 0.0, seconds)
    if condition is None:
        return feed
    rec = robustness.CONDITIONS[condition][1](load_record(path, seconds))

    def uv(mv: np.ndarray | None) -> np.ndarray | None:
        return None if mv is None else np.round(np.asarray(mv) * 1000.0).astype(np.int32)

    return replace(
        feed,
        signal_uv=uv(rec["signal"]),
        signal2_uv=uv(rec["signal2"]) if feed.signal2_uv is not None else None,
    )


def record_changes(path: Path, clf: BeatClassifier, seconds: float | None, condition: str | None = None):
    """Stream one record through the agent's step; returns (feed, alarm changes, t0 in POSIX s)."""
    feed = monitor_feed(path, seconds, condition)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    states: dict[str, ECGState] = {}
    live: dict[str, LiveDetector] = {}
    changes = []
    for c in feed_chunks(feed, t0):
        res = ecg_step(states, [ecg_validate(json.dumps(c))], clf, 0.0, live=live)
        res.raise_errors()
        changes += res.changes
    return feed, changes, t0.timestamp()


def run_record(path: Path, clf: BeatClassifier, seconds: float | None, condition: str | None = None) -> dict:
    feed, changes, base = record_changes(path, clf, seconds, condition)
    return alarm_eval.score_record(path, feed.fs_hz, feed.duration_s, changes, base, seconds)


def _afib_summary(per: dict[str, dict]) -> dict:
    """AF alarm by duration, as EC57 scores AF detection: the share of reference AF time the
    alarm is on (Se) and of alarm time that is AF (+P); and the alarm's seconds outside AF and
    atrial flutter (the false part: flutter is an atrial rhythm the alarm may also call)."""
    ref = sum(r["afib_ref_s"] for r in per.values())
    on = sum(r["afib_alarm_s"] for r in per.values())
    hit = sum(r["afib_alarm_in_af_s"] for r in per.values())
    false = sum(r["afib_alarm_outside_af_afl_s"] for r in per.values())
    return {
        "ref_s": round(ref, 1),
        "alarm_s": round(on, 1),
        "duration_se_pct": round(100 * hit / ref, 1) if ref else None,
        "duration_ppv_pct": round(100 * hit / on, 1) if on else None,
        "alarm_s_outside_af_afl": round(false, 1),
        "alarm_s_in_non_af_records": round(
            sum(r["afib_alarm_s"] for r in per.values() if r["afib_ref_s"] == 0), 1
        ),
    }


def summarise(per: dict[str, dict], classifier: str) -> dict:
    """Pooled alarm figures over records (``run_record`` outputs)."""
    hours = sum(r["hours"] for r in per.values())
    eps = sum(r["vt_episodes"] for r in per.values())
    det = sum(r["vt_detected"] for r in per.values())
    alarms: Counter = Counter()
    for r in per.values():
        alarms.update(r["alarms"])
    return {
        "hours": round(hours, 2),
        "classifier": classifier,
        "vt": {
            "episodes": eps,
            "detected": det,
            "detected_by_vf_alarm": sum(r.get("vt_detected_by_vf_alarm", 0) for r in per.values()),
            "episode_se_pct": round(100 * det / eps, 1) if eps else None,
            "false_per_hour": round(sum(r["vt_false"] for r in per.values()) / hours, 2),
            "alarms_in_vf_flutter": sum(r["vt_in_vf"] for r in per.values()),
        },
        "vf": {
            "episodes": sum(r["vf_episodes"] for r in per.values()),
            "detected": sum(d is not None for r in per.values() for d in r["vf_delay_s"]),
            "delay_s": [d for r in per.values() for d in r["vf_delay_s"]],
            "alarms_in_vt": sum(r["vf_in_vt"] for r in per.values()),
            "false_per_hour": round(sum(r["vf_false"] for r in per.values()) / hours, 2),
        },
        "afib": _afib_summary(per),
        "ec57": {
            "vt": alarm_eval.ec57_summary(per, "ec57_vt"),
            "af": alarm_eval.ec57_summary(per, "ec57_af"),
            "af_reported": alarm_eval.ec57_summary(per, "ec57_af_reported"),
        },
        "noise_alarm_pct": round(100 * sum(r["noise_alarm_s"] for r in per.values()) / (3600 * hours), 2),
        "alarms_per_hour": {k: round(v / hours, 2) for k, v in sorted(alarms.items())},
        "records": per,
    }


def held_out_classifiers(
    records: Path,
    folds: int,
    seeds: dict[int, list[int]],
    tmp: Path,
    kinds: tuple[str, ...] = KINDS,
    sveb: bool = True,
) -> dict[str, dict]:
    """Per record: the single-lead and the two-lead classifier of the fold that held it out,
    with the RR model of S / N (:mod:`models.ecg.sveb_rr`) fitted on the same fold's training
    records (``sveb=False``: S / N left to the networks, as before ``sveb-rr-1``).

    The fold models are kept in ``tmp`` (``fold<f>-<leads>lead.tflite`` and ``folds.json``, with
    the held-out records and seeds); when ``tmp`` already holds them for the same folds and seeds
    (``--fold-models DIR`` of an earlier run), they are reused instead of trained again, so the
    rules can be re-measured on the same held-out labels without the ~20 min of training."""
    leads_needed = sorted({1} | ({2} if "two_lead" in kinds else set()))
    index = tmp / "folds.json"
    want = {"folds": folds, "seeds": {str(k): v for k, v in seeds.items()}}
    paths: dict[int, dict] = {}
    if index.exists():
        saved = json.loads(index.read_text())
        if saved["key"] == want and all(
            (tmp / f"fold{f}-{leads}lead.tflite").exists() for f in range(folds) for leads in leads_needed
        ):
            paths = {
                f: {"records": recs} | {leads: tmp / f"fold{f}-{leads}lead.tflite" for leads in leads_needed}
                for f, recs in enumerate(saved["records"])
            }
    from models.ecg import sveb_rr, train

    # the streamed DS1 beats (cached): the fold models and the per-fold RR models train on them
    data = train.build_dataset(records) if sveb or not paths else {}
    if not paths:
        train.tf_deterministic()
        for leads in leads_needed:
            for f, (recs, _held, model) in enumerate(
                train.fold_fits(train.lead_view(data, leads), folds, seeds[leads])
            ):
                path = tmp / f"fold{f}-{leads}lead.tflite"
                train.export_tflite(model, path)
                paths.setdefault(f, {"records": list(recs)})[leads] = path
        index.write_text(json.dumps({"key": want, "records": [paths[f]["records"] for f in range(folds)]}))
    out = {}
    for p in paths.values():
        rr_model: sveb_rr.RRModel | bool = False
        if sveb:
            tr = ~np.isin(data["rec"], p["records"])
            rr_model = sveb_rr.fit(data["rr"][tr], data["y"][tr], data["irregular"][tr], data["rec"][tr])
        clf = {"single_lead": BeatClassifier(p[1], model2_path=False, sveb=rr_model)}
        if "two_lead" in kinds:
            clf["two_lead"] = BeatClassifier(p[1], model2_path=p[2], sveb=rr_model)
        out.update({r: clf for r in p["records"]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=None, help="first seconds of each record")
    ap.add_argument("--cv", type=int, default=0, help="leave-records-out folds (held-out models)")
    ap.add_argument("--seeds1", default=None, help="single-lead seeds (default the shipped recipe's)")
    ap.add_argument("--seeds2", default=None, help="two-lead seeds (default the shipped recipe's)")
    ap.add_argument(
        "--condition",
        choices=list(robustness.CONDITIONS),
        default=None,
        help="stream the records as a monitor would deliver them (models/ecg/robustness.py)",
    )
    ap.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="with --cv: which held-out classifiers to run (single_lead, two_lead or both)",
    )
    ap.add_argument(
        "--fold-models",
        type=Path,
        default=None,
        help="with --cv: keep the fold models in this folder and reuse them when it has them",
    )
    ap.add_argument(
        "--no-sveb",
        action="store_true",
        help="leave S / N to the networks (no RR model; the pipeline before sveb-rr-1)",
    )
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    names = record_names(a.records)

    def runs(clf_of) -> dict[str, dict]:
        return {
            n: run_record(a.records / n, clf_of(n), a.seconds, a.condition)
            for n in track(names, description="records", console=Console(stderr=True))
        }

    if not a.cv:
        clf = BeatClassifier(sveb=False if a.no_sveb else None)
        out = summarise(runs(lambda _: clf), clf.version)
    else:
        import tempfile

        from models.ecg.train import SEEDS

        seeds = {
            n: [int(x) for x in arg.split(",")] if arg else list(SEEDS[n])
            for n, arg in ((1, a.seeds1), (2, a.seeds2))
        }
        kinds = tuple(k for k in a.kinds.split(",") if k)
        with tempfile.TemporaryDirectory() as d:
            folder = a.fold_models or Path(d)
            folder.mkdir(parents=True, exist_ok=True)
            clfs = held_out_classifiers(a.records, a.cv, seeds, folder, kinds, sveb=not a.no_sveb)
            out = {"held_out": f"{a.cv}-fold leave-records-out, seeds {seeds}"}
            for kind in kinds:
                out[kind] = summarise(runs(lambda n, k=kind: clfs[n][k]), kind)
    out["condition"] = a.condition
    print(json.dumps(out, indent=None if a.json else 2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
