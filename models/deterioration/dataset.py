"""Reading PhysioNet/CinC 2019 challenge files and turning them into feature matrices.

Data format (Reyna MA et al., Crit Care Med 48(2):210-217, 2020): one pipe-separated ``.psv``
file per patient, one row per ICU hour, 40 columns + ``SepsisLabel`` (1 from 6 h before the
clinical onset of sepsis onwards; absent in a hidden test set).

NEWS2 and qSOFA are computed on the same rows from the same forward-filled vitals the feature
state holds. The rows carry no SpO2 scale, oxygen flag or consciousness level: we assume SpO2
scale 1, room air and Alert (ACVPU "A"; qSOFA altered mentation absent), and a vital sign never
measured so far scores 0 (normal).
"""

from __future__ import annotations

import logging
import math
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.deterioration.features import PLAUSIBLE, VITAL_UNITS, features_psv_rows, is_plausible

log = logging.getLogger(__name__)


def parse_psv(text: str) -> list[dict[str, float]]:
    """Rows of a challenge file as dicts of floats (NaN for missing)."""
    lines = text.strip().splitlines()
    header = lines[0].split("|")
    rows = []
    for line in lines[1:]:
        vals = [float(x) for x in line.split("|")]
        rows.append(dict(zip(header, vals, strict=True)))
    return rows


def read_psv(path: str | Path) -> list[dict[str, float]]:
    """Read one ``.psv`` file."""
    return parse_psv(Path(path).read_text())


def iter_dir(data_dir: str | Path) -> Iterator[tuple[str, list[dict[str, float]]]]:
    """(file name, rows) for every ``.psv`` in ``data_dir``, sorted by name."""
    for p in sorted(Path(data_dir).glob("*.psv")):
        yield p.name, read_psv(p)


def iter_tar(
    tar_path: str | Path,
    select: Callable[[str], bool] | None = None,
) -> Iterator[tuple[str, list[dict[str, float]]]]:
    """(file name, rows) for every ``.psv`` member of a challenge tarball, read in place.

    ``select(file_name)`` (optional) skips members before they are parsed.
    """
    with tarfile.open(tar_path, "r:*") as tf:
        for m in tf:
            if m.isfile() and m.name.endswith(".psv"):
                if select is not None and not select(Path(m.name).name):
                    continue
                f = tf.extractfile(m)
                assert f is not None
                yield Path(m.name).name, parse_psv(f.read().decode())


# --------------------------------------------------------------------------- reference scores
def qsofa_score(rr_bpm: float | None, sbp_mmhg: float | None, altered_mentation: bool = False) -> int:
    """Quick SOFA: one point each for RR >= 22/min, SBP <= 100 mmHg, altered mentation.

    Singer M et al. The Third International Consensus Definitions for Sepsis and Septic Shock
    (Sepsis-3). JAMA 315(8):801-810 (2016). A missing measurement scores 0.
    """
    return (
        int(rr_bpm is not None and rr_bpm >= 22)
        + int(sbp_mmhg is not None and sbp_mmhg <= 100)
        + int(bool(altered_mentation))
    )


def news2_from_vitals(v: dict[str, float | None]) -> int | None:
    """NEWS2 (RCP 2017) of challenge-named last vitals; scale 1, air, Alert assumed.

    A parameter never measured scores 0 (its normal value is used). Returns None when no vital
    sign was measured at all, or when ``models.vitals.news2`` is unavailable.
    """
    try:
        from models.vitals.news2 import news2_score
    except ImportError:  # the foundation's NEWS2 module is not there
        return None
    if all(x is None for x in v.values()):
        return 0

    def g(k: str, normal: float) -> float:
        x = v.get(k)
        return normal if x is None else float(x)

    return news2_score(
        rr_bpm=g("Resp", 16),
        spo2_pct=g("O2Sat", 97),
        spo2_scale=1,
        on_oxygen=False,
        sbp_mmhg=g("SBP", 120),
        hr_bpm=g("HR", 70),
        acvpu="A",
        temp_c=g("Temp", 37.0),
    ).score


# --------------------------------------------------------------------------- matrices
@dataclass
class PatientMatrix:
    name: str
    X: np.ndarray  # rows x features
    y: np.ndarray | None  # SepsisLabel, or None when the file has none
    news2: np.ndarray  # NEWS2 per row (NaN if unavailable)
    qsofa: np.ndarray  # qSOFA per row
    age: float
    male: float
    vital_counts: dict[str, list[int]] = field(default_factory=dict)  # [present, implausible]

    @property
    def labels(self) -> np.ndarray:
        """``y`` of a labelled patient; ValueError when the file has no SepsisLabel."""
        if self.y is None:
            raise ValueError(f"{self.name}: no SepsisLabel")
        return self.y


def patient_matrix(name: str, rows: list[dict[str, float]], feature_set: str) -> PatientMatrix:
    """Features, labels and reference scores of one patient, hour by hour."""
    X, lv = features_psv_rows(rows, feature_set)
    y = None
    if rows and "SepsisLabel" in rows[0]:
        y = np.array([r["SepsisLabel"] for r in rows], dtype=np.int8)
    news = np.array([np.nan if (s := news2_from_vitals(v)) is None else s for v in lv], dtype=float)
    qs = np.array([qsofa_score(v["Resp"], v["SBP"]) for v in lv], dtype=float)
    age = rows[0].get("Age", math.nan) if rows else math.nan
    male = rows[0].get("Gender", math.nan) if rows else math.nan
    return PatientMatrix(name, X, y, news, qs, float(age), float(male), vital_counts(rows))


def vital_counts(rows: list[dict[str, float]]) -> dict[str, list[int]]:
    """Per vital sign: [values present, values outside ``features.PLAUSIBLE``] in challenge rows
    (the feature code drops the latter as artefacts, i.e. treats them as not measured)."""
    out = {}
    for var in PLAUSIBLE:
        vals = [r[var] for r in rows if var in r and not math.isnan(r[var])]
        out[var] = [len(vals), sum(1 for v in vals if not is_plausible(var, v))]
    return out


IMPLAUSIBLE_WARN_PCT = 5.0  # above this share of a vital's values implausible, suspect units


def data_quality(pms: Sequence[PatientMatrix]) -> tuple[dict[str, Any], list[str]]:
    """Values present and the share outside the plausible range, per vital over all patients,
    and a warning per vital with more than :data:`IMPLAUSIBLE_WARN_PCT` % of them out of range
    (usually the wrong units, e.g. temperature in Fahrenheit)."""
    quality: dict[str, Any] = {}
    warnings = []
    for var, (lo, hi) in PLAUSIBLE.items():
        n = sum(pm.vital_counts.get(var, [0, 0])[0] for pm in pms)
        bad = sum(pm.vital_counts.get(var, [0, 0])[1] for pm in pms)
        pct = round(100.0 * bad / n, 2) if n else 0.0
        quality[var] = {"values": n, "implausible_pct": pct}
        if pct > IMPLAUSIBLE_WARN_PCT:
            warnings.append(
                f"{var}: {pct} % of {n} values outside {lo:g}-{hi:g} {VITAL_UNITS[var]}"
                f" and treated as not measured; expected unit {VITAL_UNITS[var]}"
            )
    return quality, warnings


def build(
    items: Iterator[tuple[str, list[dict[str, float]]]],
    feature_set: str,
    progress: Callable[[], Any] | None = None,
) -> list[PatientMatrix]:
    """:func:`patient_matrix` for every (name, rows); ``progress()`` is called per patient."""
    out = []
    for name, rows in items:
        out.append(patient_matrix(name, rows, feature_set))
        if progress is not None:
            progress()
    return out
