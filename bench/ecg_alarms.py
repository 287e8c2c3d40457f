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
the share of time the noise alarm is on.

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
patients the models never saw.
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

from models.ecg import metrics, robustness
from models.ecg.classify import BeatClassifier
from models.ecg.evaluate import load_record, record_names
from models.ecg.step import LiveDetector, ecg_step
from models.ecg.stream_state import ECGState
from simulators.ecg_feed import BedFeed, feed_chunks
from simulators.ecg_replay import load_feed
from wardwatch.records.ecg import ecg_validate

BEATS = "NLRejAaJSVEF/fQ"
KINDS = ("single_lead", "two_lead")  #: held-out classifiers (--cv): one lead, or both leads


def vt_episodes(path: Path, fs: float) -> list[tuple[float, float]]:
    import wfdb

    ann = wfdb.rdann(str(path), "atr")
    beats = [(s / fs, sym) for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEATS]
    out, cur = [], []
    for t, sym in [*beats, (None, "N")]:
        if sym in "VE":
            cur.append(t)
            continue
        if len(cur) >= 3 and 60 * (len(cur) - 1) / (cur[-1] - cur[0]) >= 100:
            out.append((cur[0], cur[-1]))
        cur = []
    return out


def vf_intervals(path: Path, fs: float) -> list[tuple[float, float]]:
    """Ventricular flutter / fibrillation episodes (MIT-BIH ``[`` ... ``]``), seconds."""
    import wfdb

    ann = wfdb.rdann(str(path), "atr")
    return [(a / fs, b / fs) for a, b in metrics.vf_intervals(ann.sample, list(ann.symbol))]


def afib_intervals(
    path: Path, fs: float, end_s: float, rhythms: tuple[str, ...] = ("(AFIB",)
) -> list[tuple[float, float]]:
    """(start, end) seconds of the reference rhythm episodes named in ``rhythms``."""
    import wfdb

    ann = wfdb.rdann(str(path), "atr")
    out, start = [], None
    for s, sym, aux in zip(ann.sample, ann.symbol, ann.aux_note, strict=True):
        if sym != "+":
            continue
        rhythm = aux.strip("\x00")
        if rhythm in rhythms and start is None:
            start = s / fs
        elif rhythm not in rhythms and start is not None:
            out.append((start, s / fs))
            start = None
    if start is not None:
        out.append((start, end_s))
    return out


def _in_episode(t: float, episodes: list[tuple[float, float]]) -> bool:
    """An alarm at ``t`` belongs to an episode: from 1 s before its start to 3 s after its end."""
    return any(a - 1.0 <= t <= b + 3.0 for a, b in episodes)


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


def _spans(changes: list, source: str, base: float, end_s: float) -> list[tuple[float, float]]:
    """(start, end) seconds of each time ``source`` was active (open spans end at ``end_s``)."""
    out, on = [], None
    for c in changes:
        if c.source != source:
            continue
        if c.active and on is None:
            on = c.t - base
        elif not c.active and on is not None:
            out.append((on, c.t - base))
            on = None
    return out + ([(on, end_s)] if on is not None else [])


def _length(spans: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in spans)


def _overlap(spans: list[tuple[float, float]], ref: list[tuple[float, float]]) -> float:
    """Seconds that ``spans`` and ``ref`` (each non-overlapping) have in common."""
    return sum(max(0.0, min(b, d) - max(a, c)) for a, b in spans for c, d in ref)


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
    return score_record(path, feed.fs_hz, feed.duration_s, changes, base, seconds)


def _touches(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Two closed intervals share at least one instant."""
    return a[0] <= b[1] and b[0] <= a[1]


def ec57_episodes(
    ref: list[tuple[float, float]], det: list[tuple[float, float]], ignore: list[tuple[float, float]] = ()
) -> dict:
    """ANSI/AAMI EC57 episode and duration counts of detected episodes ``det`` against reference
    episodes ``ref`` (seconds): a reference episode is detected when a detected one overlaps it
    (episode Se), a detected episode is true when it overlaps a reference one (episode +P); the
    duration figures are the overlap over the reference time (duration Se) and over the detected
    time (duration +P). Detected episodes overlapping ``ignore`` (for VT: ventricular flutter /
    fibrillation, a correct lethal-arrhythmia alarm) are left out of the +P counts."""
    det = [d for d in det if not any(_touches(d, v) for v in ignore) or any(_touches(d, r) for r in ref)]
    return {
        "ref_n": len(ref),
        "ref_hit": sum(any(_touches(r, d) for d in det) for r in ref),
        "det_n": len(det),
        "det_true": sum(any(_touches(d, r) for r in ref) for d in det),
        "ref_s": round(_length(ref), 2),
        "det_s": round(_length(det), 2),
        "overlap_s": round(_overlap(det, ref), 2),
    }


def ec57_rates(c: dict) -> dict:
    """Episode Se / +P and duration Se / +P (%) of :func:`ec57_episodes` counts (or their sums)."""

    def pct(a: float, b: float) -> float | None:
        return round(100.0 * a / b, 1) if b else None

    return {
        "episode_se_pct": pct(c["ref_hit"], c["ref_n"]),
        "episode_ppv_pct": pct(c["det_true"], c["det_n"]),
        "duration_se_pct": pct(c["overlap_s"], c["ref_s"]),
        "duration_ppv_pct": pct(c["overlap_s"], c["det_s"]),
    }


def score_record(
    path: Path, fs: float, duration_s: float, changes: list, base: float, seconds: float | None = None
) -> dict:
    """Score one record's alarm changes (device time ``base`` = the record's start) against its
    reference annotations."""
    eps = vt_episodes(path, fs)
    eps = [e for e in eps if seconds is None or e[1] < seconds]
    vt_on = [c.t - base for c in changes if c.source == "ecg.vtach" and c.active]
    hit_vt = [any(_in_episode(t, [e]) for t in vt_on) for e in eps]
    # the VT alarm is chained under the VF alarm (not raised while it is on): an episode during
    # which the VF alarm is on has its high-priority ventricular alarm too
    vf_spans = _spans(changes, "ecg.vfib", base, duration_s)
    by_vf = [
        not h and any(a <= e[0] + 3.0 and b >= e[0] for a, b in vf_spans)
        for e, h in zip(eps, hit_vt, strict=True)
    ]
    hit = [a or b for a, b in zip(hit_vt, by_vf, strict=True)]
    vf = [e for e in vf_intervals(path, fs) if seconds is None or e[1] < seconds]
    unmatched = [t for t in vt_on if not _in_episode(t, eps)]
    # a VT alarm inside ventricular flutter/fibrillation is a correct lethal-arrhythmia alarm
    in_vf = [t for t in unmatched if _in_episode(t, vf)]
    false_vt = [t for t in unmatched if t not in in_vf]
    # the VF / flutter alarm: delay from each episode's onset; alarms in VT counted apart
    vf_on = [c.t - base for c in changes if c.source == "ecg.vfib" and c.active]
    # an episode is caught by an alarm that starts in it or is still on when it starts (two
    # episodes a few seconds apart share one alarm): delay 0 for the second
    vf_delay = [
        next((round(max(a - e[0], 0.0), 1) for a, b in vf_spans if a <= e[1] + 3.0 and b >= e[0] - 1.0), None)
        for e in vf
    ]
    vf_other = [t for t in vf_on if not _in_episode(t, vf)]
    vf_in_vt = [t for t in vf_other if _in_episode(t, eps)]
    af_spans = _spans(changes, "ecg.afib", base, duration_s)
    af_ref = afib_intervals(path, fs, duration_s)
    atrial = afib_intervals(path, fs, duration_s, ("(AFIB", "(AFL"))
    return {
        "hours": duration_s / 3600,
        "vt_episodes": len(eps),
        "vt_detected": int(sum(hit)),
        "vt_detected_by_vf_alarm": int(sum(by_vf)),
        "vt_missed_s": [round(a, 1) for (a, _), h in zip(eps, hit, strict=True) if not h],
        "vt_false": len(false_vt),
        "vt_in_vf": len(in_vf),
        "vf_episodes": len(vf),
        "vf_delay_s": vf_delay,
        "vf_in_vt": len(vf_in_vt),
        "vf_false": len(vf_other) - len(vf_in_vt),
        "alarms": dict(Counter(c.source for c in changes if c.active)),
        "afib_ref_s": round(_length(af_ref), 1),
        "afib_alarm_s": round(_length(af_spans), 1),
        "afib_alarm_in_af_s": round(_overlap(af_spans, af_ref), 1),
        "afib_alarm_outside_af_afl_s": round(_length(af_spans) - _overlap(af_spans, atrial), 1),
        "noise_alarm_s": round(_length(_spans(changes, "ecg.noise", base, duration_s)), 1),
        "ec57_vt": ec57_episodes(eps, _spans(changes, "ecg.vtach", base, duration_s), vf),
        "ec57_af": ec57_episodes(af_ref, af_spans),
        "ec57_af_reported": ec57_episodes(af_ref, _reported_af(changes, base, duration_s)),
    }


def _reported_af(changes: list, base: float, end_s: float) -> list[tuple[float, float]]:
    """AF episodes as the alarm reports them: from the onset in its raise evidence
    (``af_onset_t``) to the offset in its clear evidence (``af_offset_t``); the alarm's own
    times where the evidence has none."""
    out, on = [], None
    for c in changes:
        if c.source != "ecg.afib":
            continue
        if c.active and on is None:
            on = float(c.evidence.get("af_onset_t", c.t)) - base
        elif not c.active and on is not None:
            out.append((on, float(c.evidence.get("af_offset_t", c.t)) - base))
            on = None
    return out + ([(on, end_s)] if on is not None else [])


def _ec57_summary(per: dict[str, dict], key: str) -> dict:
    """Gross EC57 figures (counts summed over records, then the rates) and each record's."""
    keys = ("ref_n", "ref_hit", "det_n", "det_true", "ref_s", "det_s", "overlap_s")
    gross = {k: round(sum(r[key][k] for r in per.values()), 2) for k in keys}
    return {
        "gross": ec57_rates(gross) | gross,
        "per_record": {
            n: ec57_rates(r[key]) | r[key] for n, r in per.items() if r[key]["ref_n"] or r[key]["det_n"]
        },
    }


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
            "vt": _ec57_summary(per, "ec57_vt"),
            "af": _ec57_summary(per, "ec57_af"),
            "af_reported": _ec57_summary(per, "ec57_af_reported"),
        },
        "noise_alarm_pct": round(100 * sum(r["noise_alarm_s"] for r in per.values()) / (3600 * hours), 2),
        "alarms_per_hour": {k: round(v / hours, 2) for k, v in sorted(alarms.items())},
        "records": per,
    }


def held_out_classifiers(
    records: Path, folds: int, seeds: dict[int, list[int]], tmp: Path, kinds: tuple[str, ...] = KINDS
) -> dict[str, dict]:
    """Per record: the single-lead and the two-lead classifier of the fold that held it out.

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
    if not paths:
        from models.ecg import train

        train.tf_deterministic()
        data = train.build_dataset(records)
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
        clf = {"single_lead": BeatClassifier(p[1], model2_path=False)}
        if "two_lead" in kinds:
            clf["two_lead"] = BeatClassifier(p[1], model2_path=p[2])
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
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    names = record_names(a.records)

    def runs(clf_of) -> dict[str, dict]:
        return {
            n: run_record(a.records / n, clf_of(n), a.seconds, a.condition)
            for n in track(names, description="records", console=Console(stderr=True))
        }

    if not a.cv:
        clf = BeatClassifier()
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
            clfs = held_out_classifiers(a.records, a.cv, seeds, folder, kinds)
            out = {"held_out": f"{a.cv}-fold leave-records-out, seeds {seeds}"}
            for kind in kinds:
                out[kind] = summarise(runs(lambda n, k=kind: clfs[n][k]), kind)
    out["condition"] = a.condition
    print(json.dumps(out, indent=None if a.json else 2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
