"""A patient's trends for the station's patient page: one Flux query, windowed means.

The query reads the last ``hours`` of the patient's vitals, NEWS2 score, deterioration risk and
ECG heart rate, averaged over windows (``aggregateWindow``) so that a page never pulls a raw
1 Hz series: about :data:`POINTS_PER_SERIES` points per series, whatever the span.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: (measurement, field) -> the series name the page plots.
SERIES = {
    ("vitals", "hr_bpm"): "hr_bpm",
    ("vitals", "spo2_pct"): "spo2_pct",
    ("vitals", "rr_bpm"): "rr_bpm",
    ("vitals", "sbp_mmhg"): "sbp_mmhg",
    ("vitals", "dbp_mmhg"): "dbp_mmhg",
    ("vitals", "temp_c"): "temp_c",
    ("news2", "score"): "news2",
    ("risk", "probability"): "risk",
    ("ecg_hr", "hr_bpm"): "ecg_hr_bpm",
}
POINTS_PER_SERIES = 240
MAX_HOURS = 72.0


def flux_string(text: str) -> str:
    """``text`` as a Flux string literal (backslash, quote and interpolation escaped).

    >>> flux_string('a"b${c}')
    '"a\\\\"b\\\\${c}"'
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def window_s(hours: float) -> int:
    """Aggregation window (whole seconds, at least 10) giving about POINTS_PER_SERIES points."""
    return max(10, round(hours * 3600 / POINTS_PER_SERIES))


def trends_flux(bucket: str, patient_id: str, hours: float) -> str:
    """The Flux query of a patient's trends over the last ``hours``."""
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(f"hours must be in (0, {MAX_HOURS:g}]")
    wanted = " or ".join(f'(r._measurement == "{m}" and r._field == "{f}")' for (m, f) in SERIES)
    return (
        f"from(bucket: {flux_string(bucket)})\n"
        f"  |> range(start: -{round(hours * 3600)}s)\n"
        f"  |> filter(fn: (r) => r.patient == {flux_string(patient_id)})\n"
        f"  |> filter(fn: (r) => {wanted})\n"
        f"  |> aggregateWindow(every: {window_s(hours)}s, fn: mean, createEmpty: false)\n"
        '  |> keep(columns: ["_time", "_value", "_field", "_measurement"])'
    )


def trends_series(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Flux rows -> ``{series: [(POSIX s, value), ...]}`` in time order."""
    out: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        name = SERIES.get((r.get("_measurement", ""), r.get("_field", "")))
        t, v = r.get("_time"), r.get("_value")
        if name is None or not isinstance(t, datetime) or not isinstance(v, (int, float)):
            continue
        out.setdefault(name, []).append((t.timestamp(), round(float(v), 3)))
    for pts in out.values():
        pts.sort()
    return out


__all__ = ["SERIES", "flux_string", "trends_flux", "trends_series", "window_s"]
