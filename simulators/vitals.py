"""Synthetic bedside vitals: a ward of patients with scripted scenarios.

Pure generation (``ward_plan``, ``vitals_at``) is separate from producing to Kafka
(``run_vitals_feed``). Baselines and noise are drawn from a seeded generator, so the same seed
gives the same ward. Scenarios unfold over the simulated time: nothing happens before
``onset`` (a fraction of the run), the change is complete at ``peak``.

Scenarios
---------
stable       adult ward patient, all NEWS2 parameters in their 0 band, physiological noise
sepsis       sepsis-like deterioration: HR, RR and temperature rise, SBP and SpO2 fall, then new
             confusion (RCP NEWS2 2017 cites sepsis as the commonest deterioration it detects)
hypoxia      COPD patient on oxygen, SpO2 scale 2 (target 88-92 %), desaturating, RR rising
bradycardia  HR falling to ~38 bpm, BP sagging

Cadence (device time): HR, SpO2, RR every reading; NIBP every 5 minutes; temperature, oxygen
and ACVPU every 15 minutes, as nurses chart them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

SCENARIOS = ("stable", "sepsis", "hypoxia", "bradycardia")
NIBP_EVERY_S = 300
CHARTED_EVERY_S = 900


@dataclass(frozen=True)
class SimPatient:
    patient_id: str
    bed: str
    scenario: str
    base: dict[str, float]
    onset: float = 0.2  # fraction of the run when the scenario starts
    peak: float = 0.8  # fraction of the run when it is fully developed


def run_prefix() -> str:
    """A patient-id prefix unique to this run (``SIM`` + 6 digits of the clock).

    Simulated device time ends *now*, so a second run within the first one's time span under the
    same patient ids would replay those patients' past: rightly deadlettered as out of order
    against the state the first run left in the tables. Each run therefore admits new patients.
    """
    return f"SIM{int(time.time()) % 1_000_000:06d}"


def ward_plan(
    beds: int, seed: int = 7, mix: dict[str, float] | None = None, prefix: str = "SIM"
) -> list[SimPatient]:
    """``beds`` patients; by default 1 in 8 sepsis, 1 in 12 hypoxia, 1 in 12 bradycardia."""
    rng = np.random.default_rng(seed)
    mix = mix or {"sepsis": 1 / 8, "hypoxia": 1 / 12, "bradycardia": 1 / 12}
    unknown = set(mix) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; valid: {SCENARIOS}")
    scenarios = ["stable"] * beds
    order = rng.permutation(beds)
    i = 0
    for name, frac in mix.items():
        n = max(1, round(frac * beds)) if frac > 0 and beds >= 4 else (1 if frac >= 0.5 else 0)
        for _ in range(n):
            if i < beds:
                scenarios[order[i]] = name
                i += 1
    out = []
    for b in range(beds):
        base = {
            "hr_bpm": float(rng.uniform(62, 84)),
            "rr_bpm": float(rng.uniform(13, 17)),
            "spo2_pct": float(rng.uniform(96.5, 98.5)),
            "sbp_mmhg": float(rng.uniform(118, 138)),
            "temp_c": float(rng.uniform(36.5, 37.3)),
        }
        if scenarios[b] == "hypoxia":
            base["spo2_pct"] = float(rng.uniform(89.5, 91.0))
        out.append(
            SimPatient(
                f"{prefix}-{b + 1:04d}",
                f"W1-{b + 1:02d}",
                scenarios[b],
                base,
                onset=float(rng.uniform(0.1, 0.3)),
                peak=float(rng.uniform(0.6, 0.8)),
            )
        )
    return out


def _progress(p: SimPatient, frac: float) -> float:
    """0 before onset, 1 after peak, smooth in between."""
    if frac <= p.onset:
        return 0.0
    if frac >= p.peak:
        return 1.0
    x = (frac - p.onset) / (p.peak - p.onset)
    return 0.5 - 0.5 * math.cos(math.pi * x)


def vitals_at(
    p: SimPatient,
    elapsed_s: float,
    total_s: float,
    rng: np.random.Generator,
    ts: datetime,
    last_sent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The reading patient ``p`` sends at ``elapsed_s`` of a ``total_s`` run (device time)."""
    g = _progress(p, elapsed_s / total_s if total_s > 0 else 1.0)
    v = dict(p.base)
    o2, acvpu, scale = "air", "A", 1
    if p.scenario == "sepsis":
        v["hr_bpm"] += 50 * g
        v["rr_bpm"] += 11 * g
        v["temp_c"] += 2.3 * g
        v["sbp_mmhg"] -= 40 * g
        v["spo2_pct"] -= 4 * g
        acvpu = "C" if g > 0.85 else "A"
    elif p.scenario == "hypoxia":
        scale, o2 = 2, "oxygen"
        v["spo2_pct"] -= 7 * g
        v["rr_bpm"] += 9 * g
        v["hr_bpm"] += 20 * g
    elif p.scenario == "bradycardia":
        v["hr_bpm"] = v["hr_bpm"] - (v["hr_bpm"] - 38) * g
        v["sbp_mmhg"] -= 20 * g
    noise = {"hr_bpm": 2.0, "rr_bpm": 0.7, "spo2_pct": 0.5, "sbp_mmhg": 3.0, "temp_c": 0.05}
    for k, sd in noise.items():
        v[k] += float(rng.normal(0, sd))
    v["spo2_pct"] = min(100.0, v["spo2_pct"])
    reading: dict[str, Any] = {
        "patient_id": p.patient_id,
        "bed": p.bed,
        "ts": ts.isoformat(),
        "spo2_scale": scale,
        "hr_bpm": round(v["hr_bpm"]),
        "spo2_pct": round(v["spo2_pct"]),
        "rr_bpm": round(v["rr_bpm"]),
    }
    last = last_sent if last_sent is not None else {}
    if elapsed_s - last.get("nibp", -1e9) >= NIBP_EVERY_S:
        reading["sbp_mmhg"] = round(v["sbp_mmhg"])
        reading["dbp_mmhg"] = round(v["sbp_mmhg"] * 0.62)
        last["nibp"] = elapsed_s
    if elapsed_s - last.get("charted", -1e9) >= CHARTED_EVERY_S or (acvpu != last.get("acvpu", "A")):
        reading["temp_c"] = round(v["temp_c"], 1)
        reading["o2"] = o2
        reading["acvpu"] = acvpu
        last["charted"] = elapsed_s
        last["acvpu"] = acvpu
    return reading


def ward_readings(
    patients: list[SimPatient],
    *,
    duration_s: float,
    speed: float = 1.0,
    interval_s: float = 1.0,
    start: datetime | None = None,
    seed: int = 7,
) -> Iterator[tuple[float, list[dict[str, Any]]]]:
    """Yield ``(wall_offset_s, readings)`` ticks: every ``interval_s`` of wall time, one reading
    per patient, device time advancing ``speed`` times faster than the wall clock.

    The device clock starts ``duration_s * speed`` in the past (unless ``start`` is given) so an
    accelerated run never produces timestamps in the future.
    """
    rng = np.random.default_rng(seed + 1)
    device_total = duration_s * speed
    if start is None:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=device_total)
    last: dict[str, dict[str, float]] = {p.patient_id: {} for p in patients}
    n_ticks = int(duration_s / interval_s)
    for i in range(n_ticks + 1):
        wall = i * interval_s
        elapsed = wall * speed
        ts = start + timedelta(seconds=elapsed)
        yield wall, [vitals_at(p, elapsed, device_total, rng, ts, last[p.patient_id]) for p in patients]


def run_vitals_feed(
    patients: list[SimPatient],
    *,
    duration_s: float,
    speed: float = 1.0,
    interval_s: float = 1.0,
    seed: int = 7,
    realtime: bool = True,
    producer=None,
    on_tick: Callable[[float, list[dict]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Produce the ward's readings to the ``vitals`` topic; return how many were sent."""
    from wardwatch import topics
    from wardwatch.kafka_io import make_producer, send

    own = producer is None
    producer = producer or make_producer()
    sent = 0
    t0 = time.monotonic()
    try:
        for wall, readings in ward_readings(
            patients, duration_s=duration_s, speed=speed, interval_s=interval_s, seed=seed
        ):
            if should_stop and should_stop():
                break
            if realtime:
                delay = t0 + wall - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            for r in readings:
                send(producer, topics.VITALS, r["patient_id"], r)
            producer.flush()
            sent += len(readings)
            if on_tick:
                on_tick(wall, readings)
    finally:
        if own:
            producer.close()
    return sent
