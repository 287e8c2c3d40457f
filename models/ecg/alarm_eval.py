"""Scoring ECG alarms against MIT-BIH reference annotations: VT episodes, VF / flutter and AF
rhythm episodes, and ANSI/AAMI EC57's episode and duration statistics.

Pure functions over alarm changes (:class:`models.ecg.alarms.AlarmChange`) and a record's
``.atr`` annotations; ``bench/ecg_alarms.py`` streams records through the agent's step and
scores them with :func:`score_record`, and the DS1 guard test does the same at a small size.

Reference: ANSI/AAMI EC57:2012, testing and reporting performance results of cardiac rhythm and
ST segment measurement algorithms (episode sensitivity / positive predictivity, duration
sensitivity / positive predictivity, gross statistics over records) [EC57].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.ecg import metrics
from models.ecg.alarms.state import AlarmChange

BEATS = "NLRejAaJSVEF/fQ"
Span = tuple[float, float]


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


def in_episode(t: float, episodes: list[tuple[float, float]]) -> bool:
    """An alarm at ``t`` belongs to an episode: from 1 s before its start to 3 s after its end."""
    return any(a - 1.0 <= t <= b + 3.0 for a, b in episodes)


def alarm_spans(changes: Sequence[Any], source: str, base: float, end_s: float) -> list[Span]:
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


def span_length(spans: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in spans)


def span_overlap(spans: list[tuple[float, float]], ref: list[tuple[float, float]]) -> float:
    """Seconds that ``spans`` and ``ref`` (each non-overlapping) have in common."""
    return sum(max(0.0, min(b, d) - max(a, c)) for a, b in spans for c, d in ref)


#: Episodes this close count as overlapping: EC57's beat-match window (150 ms), since an alarm
#: is timed by the detected R peak and the reference by the annotated one.
MATCH_S = 0.15


def touches(a: Span, b: Span, tol: float = MATCH_S) -> bool:
    """Two closed intervals share an instant, within ``tol`` seconds."""
    return a[0] <= b[1] + tol and b[0] <= a[1] + tol


def ec57_episodes(ref: list[Span], det: list[Span], ignore: Sequence[Span] = ()) -> dict[str, Any]:
    """ANSI/AAMI EC57 episode and duration counts of detected episodes ``det`` against reference
    episodes ``ref`` (seconds): a reference episode is detected when a detected one overlaps it
    (episode Se; within :data:`MATCH_S`), a detected episode is true when it overlaps a
    reference one (episode +P); the
    duration figures are the overlap over the reference time (duration Se) and over the detected
    time (duration +P). Detected episodes overlapping ``ignore`` (for VT: ventricular flutter /
    fibrillation, a correct lethal-arrhythmia alarm) are left out of the +P counts."""
    det = [d for d in det if not any(touches(d, v) for v in ignore) or any(touches(d, r) for r in ref)]
    return {
        "ref_n": len(ref),
        "ref_hit": sum(any(touches(r, d) for d in det) for r in ref),
        "det_n": len(det),
        "det_true": sum(any(touches(d, r) for r in ref) for d in det),
        "ref_s": round(float(span_length(ref)), 2),
        "det_s": round(float(span_length(det)), 2),
        "overlap_s": round(float(span_overlap(det, ref)), 2),
    }


def ec57_rates(c: Mapping[str, float]) -> dict[str, Any]:
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
    path: Path,
    fs: float,
    duration_s: float,
    changes: Sequence[AlarmChange],
    base: float,
    seconds: float | None = None,
    start_s: float = 0.0,
) -> dict[str, Any]:
    """Score one record's alarm changes (device time ``base`` = the record's start) against its
    reference annotations, from ``start_s`` (when the stream started there) to ``duration_s``
    (the end of what was streamed, record time; ``seconds`` the same when only the first part
    of the record was streamed)."""

    end_s = duration_s if seconds is None else min(seconds, duration_s)
    # re-assertions repeat an alarm still on (models.ecg.alarms.state.alarm_reassertions): not changes
    changes = [c for c in changes if not c.reassert]

    def clip(eps: list[Span]) -> list[Span]:
        return [(max(a, start_s), min(b, end_s)) for a, b in eps if b > start_s and a < end_s]

    def within(eps: list[Span]) -> list[Span]:
        return [e for e in eps if start_s <= e[0] and e[1] < end_s]

    eps = within(vt_episodes(path, fs))
    vt_on = [c.t - base for c in changes if c.source == "ecg.vtach" and c.active]
    hit_vt = [any(in_episode(t, [e]) for t in vt_on) for e in eps]
    # the VT alarm is chained under the VF alarm (not raised while it is on): an episode during
    # which the VF alarm is on has its high-priority ventricular alarm too
    vf_spans = alarm_spans(changes, "ecg.vfib", base, duration_s)
    by_vf = [
        not h and any(a <= e[0] + 3.0 and b >= e[0] for a, b in vf_spans)
        for e, h in zip(eps, hit_vt, strict=True)
    ]
    hit = [a or b for a, b in zip(hit_vt, by_vf, strict=True)]
    vf = within(vf_intervals(path, fs))
    unmatched = [t for t in vt_on if not in_episode(t, eps)]
    # a VT alarm inside ventricular flutter/fibrillation is a correct lethal-arrhythmia alarm
    in_vf = [t for t in unmatched if in_episode(t, vf)]
    false_vt = [t for t in unmatched if t not in in_vf]
    # the VF / flutter alarm: delay from each episode's onset; alarms in VT counted apart
    vf_on = [c.t - base for c in changes if c.source == "ecg.vfib" and c.active]
    # an episode is caught by an alarm that starts in it or is still on when it starts (two
    # episodes a few seconds apart share one alarm): delay 0 for the second
    vf_delay = [
        next((round(max(a - e[0], 0.0), 1) for a, b in vf_spans if a <= e[1] + 3.0 and b >= e[0] - 1.0), None)
        for e in vf
    ]
    vf_other = [t for t in vf_on if not in_episode(t, vf)]
    vf_in_vt = [t for t in vf_other if in_episode(t, eps)]
    af_spans = alarm_spans(changes, "ecg.afib", base, duration_s)
    af_ref = clip(afib_intervals(path, fs, duration_s))
    atrial = clip(afib_intervals(path, fs, duration_s, ("(AFIB", "(AFL")))
    return {
        "hours": (duration_s - start_s) / 3600,
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
        "afib_ref_s": round(span_length(af_ref), 1),
        "afib_alarm_s": round(span_length(af_spans), 1),
        "afib_alarm_in_af_s": round(span_overlap(af_spans, af_ref), 1),
        "afib_alarm_outside_af_afl_s": round(span_length(af_spans) - span_overlap(af_spans, atrial), 1),
        "noise_alarm_s": round(span_length(alarm_spans(changes, "ecg.noise", base, duration_s)), 1),
        # VT alarms in ventricular flutter / fibrillation (as in_episode: 1 s before to 3 s after)
        "ec57_vt": ec57_episodes(
            eps, alarm_spans(changes, "ecg.vtach", base, duration_s), [(a - 1.0, b + 3.0) for a, b in vf]
        ),
        "ec57_af": ec57_episodes(af_ref, af_spans),
        "ec57_af_reported": ec57_episodes(af_ref, reported_af(changes, base, duration_s)),
    }


def reported_af(changes: Sequence[Any], base: float, end_s: float) -> list[tuple[float, float]]:
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


def ec57_summary(per: Mapping[str, Mapping[str, Any]], key: str) -> dict[str, Any]:
    """Gross EC57 figures (counts summed over records, then the rates) and each record's."""
    keys = ("ref_n", "ref_hit", "det_n", "det_true", "ref_s", "det_s", "overlap_s")
    gross = {k: round(sum(r[key][k] for r in per.values()), 2) for k in keys}
    return {
        "gross": ec57_rates(gross) | gross,
        "per_record": {
            n: ec57_rates(r[key]) | r[key] for n, r in per.items() if r[key]["ref_n"] or r[key]["det_n"]
        },
    }


__all__ = [
    "BEATS",
    "MATCH_S",
    "afib_intervals",
    "alarm_spans",
    "ec57_episodes",
    "ec57_rates",
    "ec57_summary",
    "in_episode",
    "reported_af",
    "score_record",
    "span_length",
    "span_overlap",
    "touches",
    "vf_intervals",
    "vt_episodes",
]
