"""``decode_json`` reads with orjson where orjson certainly agrees and with one kept ``json``
decoder otherwise; it must read exactly what ``json.loads`` with the same rejection of NaN and
Infinity reads, and refuse the rest as ``malformed``. ``finite=False`` reads what ``json.loads``
reads, except integers beyond 64 bits."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from wardwatch.records.errors import InvalidRecord
from wardwatch.records.wire import decode_json

BIG = st.integers(min_value=2**63 - 3, max_value=2**64 + 3) | st.integers(max_value=-(2**63) + 3)


def _reference(raw):
    def reject(name):
        raise ValueError(name)

    try:
        return ("ok", json.loads(raw, parse_constant=reject))
    except (ValueError, UnicodeDecodeError, TypeError):
        return ("malformed", None)


def _reference_any(raw):
    def int64(text):
        v = int(text)
        if not -(2**63) <= v < 2**64:
            raise ValueError("beyond 64 bits")
        return v

    try:
        return ("ok", json.loads(raw, parse_int=int64))
    except (ValueError, UnicodeDecodeError, TypeError):
        return ("malformed", None)


def _ours(raw, finite=True):
    try:
        return ("ok", decode_json(raw, finite=finite))
    except InvalidRecord as e:
        assert e.code == "malformed"
        return ("malformed", None)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | BIG | st.floats() | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.sampled_from(["utf-8", "utf-16", "utf-32"]), st.booleans())
def test_reads_what_json_loads_reads(value, encoding, as_bytes):
    text = json.dumps(value)  # NaN and Infinity come out as their literals: both must refuse
    raw = text.encode(encoding) if as_bytes else text
    want, got = _reference(raw), _ours(raw)
    assert want[0] == got[0]
    if want[0] == "ok":
        assert json.dumps(got[1]) == json.dumps(want[1])
        assert not any(isinstance(v, float) and not math.isfinite(v) for v in _floats(got[1]))


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans())
def test_not_finite_reads_what_json_loads_reads_up_to_64_bits(value, as_bytes):
    text = json.dumps(value)
    raw = text.encode() if as_bytes else text
    want, got = _reference_any(raw), _ours(raw, finite=False)
    assert want[0] == got[0]
    if want[0] == "ok":
        assert json.dumps(got[1]) == json.dumps(want[1])  # ints stay ints, NaN stays NaN


def test_big_integers_are_never_read_as_floats():
    assert decode_json(b"[123456789012345678901234567890]") == [123456789012345678901234567890]
    assert decode_json("-9223372036854775809") == -9223372036854775809
    assert _ours(b'{"n": 18446744073709551616}', finite=False)[0] == "malformed"
    assert decode_json(b'{"n": 18446744073709551615}', finite=False) == {"n": 2**64 - 1}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=32))
def test_arbitrary_input_is_read_or_malformed_as_json_loads_says(raw):
    assert _reference(raw)[0] == _ours(raw)[0]
    assert _reference_any(raw)[0] == _ours(raw, finite=False)[0]


def test_not_text_and_a_bom_are_malformed():
    for raw in (5, None, "\ufeff{}", b"\xff"):
        assert _ours(raw)[0] == "malformed"


def _floats(v):
    if isinstance(v, float):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from _floats(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _floats(x)
