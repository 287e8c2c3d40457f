"""Float arrays in the ECG state as base64 of their float64 bytes instead of JSON number lists.

Lossless (the same bits come back), a third smaller than the shortest decimal text of each
float, and several times cheaper to write and parse: the per-patient ECG state is written to its
changelog with every chunk, and its detector buffers were most of it (issue #18). States written
before hold plain lists; :func:`unpack_f64` reads both.

Copies of the input signal (millivolts that are whole microvolts, ``ecg_uv / 1000``) go as
their microvolts in 16 bits (:func:`pack_mv`): the same bits again, in 2.7 characters a sample
instead of ~7 as decimals.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from numpy.typing import NDArray

_I16 = np.iinfo(np.int16)
_MV_MIN, _MV_MAX = _I16.min / 1000.0, _I16.max / 1000.0  # the millivolts 16-bit microvolts hold


def pack_f64(a: NDArray[Any]) -> dict[str, Any]:
    """``{"f64": base64 of the little-endian float64 bytes, "shape": [...]}``.

    >>> pack_f64(np.array([1.5, -2.0]))
    {'f64': 'AAAAAAAA+D8AAAAAAAAAwA==', 'shape': [2]}
    """
    x = np.ascontiguousarray(a, dtype="<f8")
    return {"f64": base64.b64encode(x.tobytes()).decode("ascii"), "shape": list(x.shape)}


def pack_mv(a: NDArray[Any]) -> dict[str, Any]:
    """Millivolts: ``{"uv16": base64 of the little-endian int16 microvolts, "shape": [...]}``
    when every value is ``uv / 1000`` of an int16 ``uv`` (bit for bit, so -0.0 and NaN are
    not), else :func:`pack_f64`'s form. :func:`unpack_f64` gives back the same float64 bits.

    >>> pack_mv(np.array([-1, 0, 250]) / 1000.0)
    {'uv16': '//8AAPoA', 'shape': [3]}
    >>> sorted(pack_mv(np.array([0.0005])))
    ['f64', 'shape']
    """
    x = np.ascontiguousarray(a, dtype="<f8")
    # In range first (NaN fails both comparisons): the scaled values then fit 16 bits, and the
    # bit-for-bit check below decides. Written with few numpy calls: this packs three arrays of
    # every ECG chunk (the state is written with each), ~10 % of the ECG step before.
    if x.size == 0 or (x.min() >= _MV_MIN and x.max() <= _MV_MAX):
        uv16 = np.rint(x * 1000.0).astype("<i2")
        if ((uv16.astype(np.float64) / 1000.0).view(np.int64) == x.view(np.int64)).all():
            return {"uv16": base64.b64encode(uv16.tobytes()).decode("ascii"), "shape": list(x.shape)}
    return pack_f64(x)


def unpack_f64(v: Any) -> NDArray[np.float64]:
    """The float64 array of :func:`pack_f64`'s or :func:`pack_mv`'s output, or of a (nested)
    list of numbers.

    >>> unpack_f64(pack_f64(np.array([[0.1, 0.2]]))).tolist(), unpack_f64([0.1, 0.2]).tolist()
    ([[0.1, 0.2]], [0.1, 0.2])
    >>> unpack_f64(pack_mv(np.array([0.012, -3.2]))).tolist()
    [0.012, -3.2]
    """
    if isinstance(v, dict):
        if "uv16" in v:
            uv = np.frombuffer(base64.b64decode(v["uv16"]), dtype="<i2")
            return (uv.astype(np.float64) / 1000.0).reshape(v["shape"])
        raw = np.frombuffer(base64.b64decode(v["f64"]), dtype="<f8")
        return raw.astype(np.float64).reshape(v["shape"])
    return np.asarray(v, dtype=float)
