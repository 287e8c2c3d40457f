"""The deterioration model artifact: a standardized, Platt-calibrated logistic regression.

Each input feature ``x`` enters as itself plus hinge terms ``max(0, x - k)`` at a few knots ``k``
(quantiles of the training rows): a piecewise-linear effect per feature, still one logistic
regression (an additive model; Hastie & Tibshirani, Generalized Additive Models, 1990). Risk
then rises on both sides of normal (heart rate low or high) instead of only along one line.

Learned state only (no code, no pickle): feature names, scaler mean/scale, coefficients,
intercept, calibration slope/intercept, the alert thresholds chosen on validation patients, a
version string and the metrics it was released with. Stored as JSON next to this module, so
inference needs numpy only (no scikit-learn in the stream worker).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).parent / "artifacts"
#: The feature set of the deployed artifact (``artifacts/deterioration_<set>.json``); the stream's
#: default ``WARDWATCH_DETERIORATION_MODEL`` names the same one.
DEPLOYED = "vitals"


@dataclass(frozen=True)
class DeteriorationModel:
    """A calibrated logistic model over :func:`features_vector` columns.

    ``p = sigmoid(calib_a * z + calib_b)`` with ``z = intercept + coef . (x - mean) / scale``.
    """

    version: str
    feature_set: str
    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    calib_a: float
    calib_b: float
    threshold: float  # raise: calibrated probability chosen on validation
    clear_threshold: float  # clear below this (hysteresis)
    metrics: dict[str, Any] = field(default_factory=dict)
    knots: list[list[float]] = field(default_factory=list)  # per feature; [] = linear only

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """mean, scale and coef as arrays, built once per model (scoring is per reading)."""
        return np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.coef)

    @cached_property
    def _knot_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The hinge columns' input-feature index and knot, built once per model."""
        return knot_columns(self.knots)

    def source(self) -> np.ndarray:
        """For each model column, the index of the input feature it comes from."""
        return basis_source(len(self.feature_names), self.knots)

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """Hinge basis of ``X`` (rows x features), standardized: the logistic model's input."""
        mean, scale, _ = self._arrays
        z: np.ndarray = (hinge_basis(np.asarray(X, dtype=float), self._knot_columns) - mean) / scale
        return z

    def decision(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated logit(s)."""
        _, _, coef = self._arrays
        z: np.ndarray = self.standardize(X) @ coef + self.intercept
        return z

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of the (6-h-ahead) sepsis label, per row."""
        z = self.calib_a * self.decision(X) + self.calib_b
        p: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return p

    def explain(self, x: np.ndarray, top: int = 5) -> list[dict[str, Any]]:
        """Features pushing risk up most: coefficient x standardized value, largest first."""
        _, _, coef = self._arrays
        xs = self.standardize(np.asarray(x, dtype=float).reshape(1, -1))[0]
        contrib = np.bincount(self.source(), weights=coef * xs, minlength=len(self.feature_names))
        order = np.argsort(-contrib)
        out = []
        for i in order[:top]:
            if contrib[i] <= 0:
                break
            out.append(
                {
                    "feature": self.feature_names[i],
                    "value": round(float(x[i]), 3),
                    "contribution": round(float(contrib[i]), 3),
                }
            )
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeteriorationModel:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def knot_columns(knots: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """For every hinge column of :func:`hinge_basis`, in order: its input-feature index and knot.

    >>> knot_columns([[1.0], [], [2.0, 3.0]])
    (array([0, 2, 2]), array([1., 2., 3.]))
    """
    src = [j for j, ks in enumerate(knots) for _ in ks]
    vals = [k for ks in knots for k in ks]
    return np.asarray(src, dtype=int), np.asarray(vals, dtype=float)


def hinge_basis(X: np.ndarray, knots: list[list[float]] | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``X`` followed by ``max(0, X[:, j] - k)`` for every knot ``k`` of every feature ``j``
    (``knots`` per feature, or already as :func:`knot_columns`).

    >>> hinge_basis(np.array([[2.0, 5.0]]), [[1.0, 3.0], [4.0]])
    array([[2., 5., 1., 0., 1.]])
    """
    X = np.atleast_2d(X)
    src, vals = knots if isinstance(knots, tuple) else knot_columns(knots)
    return np.hstack([X, np.maximum(0.0, X[:, src] - vals)])


def basis_source(n_features: int, knots: list[list[float]]) -> np.ndarray:
    """Input-feature index of each :func:`hinge_basis` column."""
    src = list(range(n_features))
    for j, ks in enumerate(knots):
        src += [j] * len(ks)
    return np.asarray(src, dtype=int)


def save_model(model: DeteriorationModel, path: str | Path) -> Path:
    """Write the artifact as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model.to_json() + "\n")
    return path


@lru_cache(maxsize=4)
def load_model(path: str = DEPLOYED) -> DeteriorationModel:
    """Load (and cache; the artifact is immutable) an artifact.

    ``path`` is a feature set (``vitals``, ``full``, ``labs``; default :data:`DEPLOYED`) or a
    file path. The stream and the CLI pass the configured ``WARDWATCH_DETERIORATION_MODEL``.
    """
    from models.deterioration.features import FEATURE_SETS, feature_names

    p = ARTIFACT_DIR / f"deterioration_{path}.json" if path in FEATURE_SETS else Path(path)
    m = DeteriorationModel.from_dict(json.loads(p.read_text()))

    if m.feature_names != feature_names(m.feature_set):
        raise ValueError(f"{p}: feature names do not match the feature code ({m.feature_set})")
    return m
