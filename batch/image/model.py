"""The image model: Keras DenseNet121 (keras.applications), weights only from an operator file.

There is no download at run time (``weights=None`` always). With ``WARDWATCH_IMAGE_WEIGHTS``
pointing at a weights file (``*.weights.h5``, e.g. ImageNet DenseNet121 weights or a
fine-tuned head with ``WARDWATCH_IMAGE_LABELS`` naming its classes) the model is "trained";
without it the network is randomly initialised with a fixed seed and every result says so:
``{"name": "DenseNet121", "trained": false, "warning": "untrained model: outputs are not
clinical findings"}``.

Reference: Huang G, Liu Z, van der Maaten L, Weinberger KQ. Densely connected convolutional
networks. CVPR 2017. Keras implementation: ``keras.applications.DenseNet121``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from batch.image.config import ImageSettings

MODEL_NAME = "DenseNet121"
UNTRAINED_WARNING = "untrained model: outputs are not clinical findings"
SEED = 20261125


class ImageModel:
    """DenseNet121 wrapper: ``predict(x) -> dict`` for a (1, 224, 224, 3) preprocessed batch."""

    def __init__(self, weights: Path | None = None, labels: Path | None = None, top_k: int = 5) -> None:
        import keras

        self.top_k = top_k
        self.labels: list[str] | None = None
        if labels is not None:
            self.labels = [str(x) for x in json.loads(Path(labels).read_text())]
        classes = len(self.labels) if self.labels else 1000
        keras.utils.set_random_seed(SEED)  # the untrained model is the same on every worker
        self.net = keras.applications.DenseNet121(
            weights=None, include_top=True, input_shape=(224, 224, 3), classes=classes
        )
        self.trained = False
        self.weights_sha256: str | None = None
        if weights is not None:
            w = Path(weights)
            if not w.is_file():
                raise FileNotFoundError(f"WARDWATCH_IMAGE_WEIGHTS file not found: {w}")
            self.net.load_weights(str(w))
            self.trained = True
            self.weights_sha256 = hashlib.sha256(w.read_bytes()).hexdigest()[:16]
        self._lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        """The ``model`` block of every result."""
        import keras

        d: dict[str, Any] = {
            "name": MODEL_NAME,
            "trained": self.trained,
            "keras": keras.__version__,
            "input": [224, 224, 3],
            "preprocessing": "densenet (torch mode: ImageNet mean/std)",
        }
        if self.trained:
            d["weights_sha256"] = self.weights_sha256
        else:
            d["warning"] = UNTRAINED_WARNING
            d["seed"] = SEED
        return d

    def predict(self, x: np.ndarray) -> dict[str, Any]:
        """Top-k classes and probabilities for one preprocessed image batch of size 1."""
        with self._lock:
            p = np.asarray(self.net(x, training=False))[0].astype(np.float64)
        top = np.argsort(p)[::-1][: self.top_k]
        return {
            "top": [
                {"class": self.labels[i] if self.labels else int(i), "probability": round(float(p[i]), 6)}
                for i in top
            ],
            "entropy_bits": round(float(-(p * np.log2(np.clip(p, 1e-12, 1))).sum()), 4),
            "n_classes": int(p.size),
        }


@lru_cache(maxsize=1)
def get_model() -> ImageModel:
    """The process-wide model (built once; DenseNet121 takes a few seconds on CPU)."""
    s = ImageSettings()
    return ImageModel(s.weights, s.labels, s.top_k)
