"""The deterioration model artifact: a standardized, Platt-calibrated logistic regression.

Learned state only (no code, no pickle): feature names, scaler mean/scale, coefficients,
intercept, calibration slope/intercept, the alert thresholds chosen on validation patients, a
version string and the metrics it was released with. Stored as JSON next to this module, so
inference needs numpy only (no scikit-learn in the stream worker).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).parent / "artifacts"
DEFAULT_ARTIFACT = ARTIFACT_DIR / "deterioration_vitals.json"


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
    threshold: float                 # raise: calibrated probability chosen on validation
    clear_threshold: float           # clear below this (hysteresis)
    metrics: dict[str, Any] = field(default_factory=dict)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.coef)

    def standardize(self, X: np.ndarray) -> np.ndarray:
        mean, scale, _ = self._arrays()
        return (np.asarray(X, dtype=float) - mean) / scale

    def decision(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated logit(s)."""
        _, _, coef = self._arrays()
        return self.standardize(X) @ coef + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of the (6-h-ahead) sepsis label, per row."""
        z = self.calib_a * self.decision(X) + self.calib_b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def explain(self, x: np.ndarray, top: int = 5) -> list[dict[str, Any]]:
        """Features pushing risk up most: coefficient x standardized value, largest first."""
        _, _, coef = self._arrays()
        xs = self.standardize(np.asarray(x, dtype=float).reshape(1, -1))[0]
        contrib = coef * xs
        order = np.argsort(-contrib)
        out = []
        for i in order[:top]:
            if contrib[i] <= 0:
                break
            out.append({"feature": self.feature_names[i], "value": round(float(x[i]), 3),
                        "contribution": round(float(contrib[i]), 3)})
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeteriorationModel:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def save_model(model: DeteriorationModel, path: str | Path) -> Path:
    """Write the artifact as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model.to_json() + "\n")
    return path


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> DeteriorationModel:
    """Load (and cache; the artifact is immutable) the deployed or a given artifact."""
    p = Path(path) if path else DEFAULT_ARTIFACT
    m = DeteriorationModel.from_dict(json.loads(p.read_text()))
    from models.deterioration.features import feature_names

    if m.feature_names != feature_names(m.feature_set):
        raise ValueError(f"{p}: feature names do not match the feature code ({m.feature_set})")
    return m
