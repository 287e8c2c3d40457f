"""Float arrays in the ECG state as base64 of their float64 bytes instead of JSON number lists.

Lossless (the same bits come back), a third smaller than the shortest decimal text of each
float, and several times cheaper to write and parse: the per-patient ECG state is written to its
changelog with every chunk, and its detector buffers were most of it (issue #18). States written
before hold plain lists; :func:`unpack_f64` reads both.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from numpy.typing import NDArray


def pack_f64(a: NDArray[Any]) -> dict[str, Any]:
    """``{"f64": base64 of the little-endian float64 bytes, "shape": [...]}``.

    >>> pack_f64(np.array([1.5, -2.0]))
    {'f64': 'AAAAAAAA+D8AAAAAAAAAwA==', 'shape': [2]}
    """
    x = np.ascontiguousarray(a, dtype="<f8")
    return {"f64": base64.b64encode(x.tobytes()).decode("ascii"), "shape": list(x.shape)}


def unpack_f64(v: Any) -> NDArray[np.float64]:
    """The float64 array of :func:`pack_f64`'s output, or of a (nested) list of numbers.

    >>> unpack_f64(pack_f64(np.array([[0.1, 0.2]]))).tolist(), unpack_f64([0.1, 0.2]).tolist()
    ([[0.1, 0.2]], [0.1, 0.2])
    """
    if isinstance(v, dict):
        raw = np.frombuffer(base64.b64decode(v["f64"]), dtype="<f8")
        return raw.astype(np.float64).reshape(v["shape"])
    return np.asarray(v, dtype=float)
