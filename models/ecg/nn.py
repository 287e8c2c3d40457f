"""Custom Keras layers of the ECG beat CNN (imported by training and by anything loading ``.keras``)."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="wardwatch")
class LogRR(keras.layers.Layer):
    """Natural log of positive RR features (seconds and ratios), floored at ``eps``.

    RR ratios are multiplicative (a beat 20 % early is ratio 0.8, 20 % late 1.25): on a log scale
    prematurity and compensatory pauses become symmetric, which the small dense branch uses better.
    """

    def __init__(self, eps: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, x: Any) -> Any:
        return keras.ops.log(keras.ops.maximum(x, self.eps))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "eps": self.eps}
