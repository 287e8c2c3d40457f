"""Real septic and non-septic ICU trajectories replayed as 1 Hz bedside vitals.

The sample in ``simulators/data/sepsis2019_trajectories.psv.gz`` holds the hourly vital signs
(HR, O2Sat, Temp, SBP, MAP, DBP, Resp), laboratory results (the 26 challenge labs the
deterioration model knows, ``LABS``), Age, Gender and SepsisLabel of a few dozen patients of
the PhysioNet/CinC 2019 challenge training set A, all from the deterioration model's held-out
*test* split (so the demo never replays a patient the model was trained on): 21 septic records
whose first SepsisLabel is at row 10-40 and 20 non-septic records of 20-50 h, the first of each
in file order with HR charted in >= 70 % of hours, plus :data:`DEMO_SEPTIC` first. Source and licence:
PhysioNet open access; Reyna MA et al., Early Prediction of Sepsis From Clinical Data: the
PhysioNet/Computing in Cardiology Challenge 2019. Crit Care Med 48(2):210-217 (2020).
Rebuild: ``python -m simulators.trajectories --extract TAR`` (see :func:`extract_sample`).

Replay (:func:`trajectory_readings`): ICU hour *h* of the record covers device time
``[start + (h - 1) h, start + h h)``. A vital sign is sent during hour *h* only if the record
measured it in that hour (the chart's own cadence: a missing NIBP hour stays missing), every
``step_s`` seconds (1 s = 1 Hz), linearly interpolated towards the next measured hourly value,
with seeded Gaussian noise. The readings are ``VitalsReading`` objects; ``.to_dict()`` gives the
wire format.

The same record also supplies what the other bedside-adjacent feeds would send
(:func:`trajectory_labs`, :func:`trajectory_admission`): each laboratory value of hour *h* as a
``LabResult`` collected at the start of that hour (``labs`` topic), and one admission message
with age, sex and the ICU admission time = the start of ICU hour 1 (``admissions`` topic), so the
``full`` deterioration model sees the record the way it was trained on it.
"""

from __future__ import annotations

import gzip
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from wardwatch.records.labs import LABS, LabResult
from wardwatch.records.vitals import VitalsReading

log = logging.getLogger(__name__)

SAMPLE_PATH = Path(__file__).parent / "data" / "sepsis2019_trajectories.psv.gz"
# The demo's deteriorating patient: a septic test-split record on which the deployed model,
# replayed at one reading a minute, raises one alert ~8 h into the stay (SepsisLabel from ICU
# hour 17). Chosen after training among 60 candidates (about half of the septic candidates raise
# an alert at all, and 6 of 20 non-septic ones do): a showcase, not a performance figure.
DEMO_SEPTIC = "p020563"
COLUMNS = ("HR", "O2Sat", "Temp", "SBP", "MAP", "DBP", "Resp")
FIELDS = {
    "HR": "hr_bpm",
    "O2Sat": "spo2_pct",
    "Temp": "temp_c",
    "SBP": "sbp_mmhg",
    "DBP": "dbp_mmhg",
    "Resp": "rr_bpm",
}
NOISE_SD = {"HR": 1.5, "O2Sat": 0.4, "Temp": 0.03, "SBP": 2.0, "DBP": 1.5, "Resp": 0.8}
LIMITS = {
    "HR": (25, 250),
    "O2Sat": (50, 100),
    "Temp": (30, 43),
    "SBP": (40, 280),
    "DBP": (15, 180),
    "Resp": (3, 70),
}


@dataclass(frozen=True)
class Trajectory:
    """One patient's hourly record (challenge column names, NaN = not measured)."""

    record: str  # source file name, e.g. "p000123"
    septic: bool
    onset_hour: int | None  # ICU hour of the first SepsisLabel=1 (6 h before onset)
    age: float
    male: bool
    hours: np.ndarray  # ICULOS per row
    values: dict[str, np.ndarray]  # column -> hourly values (vital signs)
    labs: dict[str, np.ndarray]  # lab name -> hourly values (NaN = not drawn that hour)


def load_trajectories(path: str | Path = SAMPLE_PATH, septic: bool | None = None) -> list[Trajectory]:
    """The stored sample (optionally only septic or only non-septic), in file order."""
    with gzip.open(path, "rt") as f:
        lines = f.read().strip().splitlines()
    header = lines[0].split("|")
    by_rec: dict[str, list[list[str]]] = {}
    for line in lines[1:]:
        parts = line.split("|")
        by_rec.setdefault(parts[0], []).append(parts)
    out = []
    for rec, rows in by_rec.items():
        cols = {h: np.array([float(r[i]) for r in rows]) for i, h in enumerate(header) if i > 0}
        lab = cols["SepsisLabel"]
        is_septic = bool(lab.max() > 0)
        onset = int(cols["ICULOS"][int(np.argmax(lab))]) if is_septic else None
        t = Trajectory(
            rec,
            is_septic,
            onset,
            float(cols["Age"][0]),
            cols["Gender"][0] == 1,
            cols["ICULOS"].astype(int),
            {c: cols[c] for c in COLUMNS},
            {c: cols[c] for c in LABS},
        )
        if septic is None or t.septic == septic:
            out.append(t)
    return out


def _interp_hourly(hours: np.ndarray, vals: np.ndarray, t_h: float, idx: int) -> float:
    """Value at fractional ICU hour ``t_h`` in row ``idx``: towards the next measured value."""
    v0 = vals[idx]
    nxt = np.flatnonzero(~np.isnan(vals[idx + 1 :]))
    if len(nxt) == 0:
        return float(v0)
    j = idx + 1 + int(nxt[0])
    frac = (t_h - hours[idx]) / float(hours[j] - hours[idx])
    return float(v0 + (vals[j] - v0) * frac)


def trajectory_readings(
    traj: Trajectory,
    *,
    patient_id: str | None = None,
    bed: str = "SIM-01",
    start: datetime | None = None,
    step_s: float = 1.0,
    hours: float | None = None,
    noise: bool = True,
    seed: int = 0,
) -> Iterator[VitalsReading]:
    """Replay a trajectory as readings every ``step_s`` seconds of device time.

    Parameters
    ----------
    traj : Trajectory
        From :func:`load_trajectories`.
    patient_id, bed : str
        Identifiers on the readings (default patient id: ``"SIM-" + record``).
    start : datetime, optional
        Device time of the start of the first ICU hour (default 2026-01-01T00:00Z).
    step_s : float
        Seconds of device time between readings (1.0 = 1 Hz; larger for fast tests).
    hours : float, optional
        Stop after this many hours of the record.
    noise, seed
        Seeded Gaussian measurement noise.

    Examples
    --------
    >>> traj = load_trajectories(septic=True)[0]
    >>> r = next(trajectory_readings(traj, step_s=60.0))
    >>> r.bed
    'SIM-01'
    """
    if step_s <= 0:
        raise ValueError("step_s must be positive")
    rng = np.random.default_rng(seed)
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    pid = patient_id or f"SIM-{traj.record}"
    n_rows = len(traj.hours)
    end_h = n_rows if hours is None else min(n_rows, int(math.ceil(hours)))
    steps_per_hour = int(round(3600.0 / step_s))
    # forward-filled values to interpolate from when a row itself measured the vital
    for idx in range(end_h):
        h = int(traj.hours[idx])
        measured = {c: not math.isnan(traj.values[c][idx]) for c in FIELDS}
        if not any(measured.values()):
            continue
        for k in range(steps_per_hour):
            t_h = h + k / steps_per_hour
            ts = _hour_start(traj, idx, start) + timedelta(hours=k / steps_per_hour)
            kw: dict[str, float] = {}
            for c, field in FIELDS.items():
                if not measured[c]:
                    continue
                v = _interp_hourly(traj.hours.astype(float), traj.values[c], t_h, idx)
                if noise:
                    v += rng.normal(0.0, NOISE_SD[c])
                lo, hi = LIMITS[c]
                kw[field] = round(min(max(v, lo), hi), 2 if c == "Temp" else 1)
            yield VitalsReading(patient_id=pid, bed=bed, ts=ts, spo2_scale=1, o2="air", acvpu="A", **kw)


def _hour_start(traj: Trajectory, idx: int, start: datetime) -> datetime:
    """Device time at which row ``idx`` (ICU hour ``traj.hours[idx]``) begins in a replay."""
    return start + timedelta(hours=int(traj.hours[idx]) - int(traj.hours[0]))


def trajectory_labs(
    traj: Trajectory,
    *,
    patient_id: str | None = None,
    start: datetime | None = None,
    hours: float | None = None,
) -> Iterator[LabResult]:
    """The record's laboratory values as results collected at the start of their ICU hour.

    Same clock as :func:`trajectory_readings` (``start`` = device time of the first row's hour);
    units are the challenge's, i.e. exactly what the ``labs`` validator accepts.
    """
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    pid = patient_id or f"SIM-{traj.record}"
    end_h = len(traj.hours) if hours is None else min(len(traj.hours), int(math.ceil(hours)))
    for idx in range(end_h):
        ts = _hour_start(traj, idx, start)
        for test, unit in LABS.items():
            v = traj.labs[test][idx]
            if not math.isnan(v):
                yield LabResult(patient_id=pid, ts=ts, test=test, value=float(v), unit=unit)


def trajectory_admission(
    traj: Trajectory, *, patient_id: str | None = None, start: datetime | None = None
) -> dict[str, object]:
    """The admission message (``admissions`` wire format) of a replayed record.

    ``admit_ts`` is the start of ICU hour 1, so the stream numbers ICU hours as the record does
    even when the first rows carry no vital sign.
    """
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    admit = start - timedelta(hours=int(traj.hours[0]) - 1)
    return {
        "patient_id": patient_id or f"SIM-{traj.record}",
        "admit_ts": admit.isoformat(),
        "age_years": traj.age,
        "sex": "M" if traj.male else "F",
    }


def extract_sample(tar_path: str | Path, records: list[str], out: str | Path = SAMPLE_PATH) -> Path:
    """Write the vitals/demographics/label columns of ``records`` from a set A tarball."""
    from models.deterioration.dataset import iter_tar

    want = set(records)
    cols = ("ICULOS", *COLUMNS, *tuple(LABS), "Age", "Gender", "SepsisLabel")
    lines = ["record|" + "|".join(cols)]
    found = {}
    for name, rows in iter_tar(tar_path):
        rec = name.removesuffix(".psv")
        if rec in want:
            found[rec] = [f"{rec}|" + "|".join(_fmt(r[c]) for c in cols) for r in rows]
    for rec in records:
        lines += found[rec]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", compresslevel=9) as f:
        f.write("\n".join(lines) + "\n")
    return out


def _fmt(v: float) -> str:
    return "NaN" if math.isnan(v) else f"{v:g}"


def run_trajectory_feed(
    trajs: list[Trajectory],
    *,
    hours: float,
    step_s: float = 60.0,
    rate: float = 0.0,
    seed: int = 0,
    labs: bool = True,
    prefix: str | None = None,
    producer=None,
) -> dict[str, int]:
    """Produce replayed trajectories to Kafka; return the messages sent per topic.

    Device time of every patient ends *now* (``hours`` of history), so no reading is in the
    future. With ``labs`` (default) each patient's admission goes to ``admissions`` first, then
    vital signs (``vitals``) and laboratory results (``labs``) of all beds are interleaved in
    device-time order. ``rate`` caps the messages sent per wall-clock second (0: as fast as the
    broker takes them). Patient ids are ``<prefix>-<record>``, by default with a prefix new to
    this run (:func:`simulators.vitals.run_prefix`), so replaying twice admits new patients.
    """
    import heapq
    import itertools
    import time

    from simulators.vitals import run_prefix
    from wardwatch import topics
    from wardwatch.kafka_io import make_producer, send

    prefix = prefix or run_prefix()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    feeds: list[Iterator[tuple[datetime, str, str, dict]]] = []
    first: list[tuple[str, str, dict]] = []
    for i, t in enumerate(trajs):
        pid = f"{prefix}-{t.record}"
        feeds.append(
            (r.ts, topics.VITALS, r.patient_id, r.to_dict())
            for r in trajectory_readings(
                t,
                patient_id=pid,
                bed=f"SIM-T{i + 1:02d}",
                start=start,
                step_s=step_s,
                hours=hours,
                seed=seed + i,
            )
        )
        if labs:
            first.append((topics.ADMISSIONS, pid, trajectory_admission(t, patient_id=pid, start=start)))
            feeds.append(
                (r.ts, topics.LABS, r.patient_id, r.to_dict())
                for r in trajectory_labs(t, patient_id=pid, start=start, hours=hours)
            )
    merged = ((topic, key, value) for _, topic, key, value in heapq.merge(*feeds, key=lambda m: m[0]))
    own = producer is None
    producer = producer or make_producer()
    sent: dict[str, int] = {}
    t0 = time.monotonic()
    try:
        for n, (topic, key, value) in enumerate(itertools.chain(first, merged), start=1):
            send(producer, topic, key, value)
            sent[topic] = sent.get(topic, 0) + 1
            if rate > 0:
                delay = t0 + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        producer.flush()
    finally:
        if own:
            producer.close()
    log.info("replayed %d trajectories: %s", len(trajs), sent)
    return sent
