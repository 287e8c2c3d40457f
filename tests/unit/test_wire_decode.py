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


def test_the_64_bit_edges_are_ints_in_both_modes():
    edges = (2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**19, 10**20 - 1, -(10**19))
    for v in edges:
        for raw in (str(v), f'{{"n": [{v}]}}'.encode()):
            got = decode_json(raw)
            assert json.dumps(got) == json.dumps(json.loads(raw)), raw
        if -(2**63) <= v < 2**64:
            assert (
                decode_json(f"[{v}]", finite=False) == [v] and type(decode_json(str(v), finite=False)) is int
            )


def test_influx_points_with_nanosecond_times_are_read_by_orjson(monkeypatch):
    """A points message carries 19-digit ``time_ns`` integers (within 64 bits): it must not
    fall back to ``json`` (a Python ``parse_int`` call for every integer in the sink)."""
    from wardwatch.records import wire
    from wardwatch.records.points import point, points_message

    msg = json.dumps(
        points_message(
            [
                point(
                    "vitals",
                    {"patient": "P1"},
                    {"hr_bpm": 80, "spo2_pct": 97.5},
                    "2026-12-06T08:00:00.123456+00:00",
                )
            ]
            * 3
        )
    ).encode()

    def no_json(*a, **k):
        raise AssertionError("fell back to json")

    monkeypatch.setattr(wire.json, "loads", no_json)
    monkeypatch.setattr(wire._FINITE, "decode", no_json)
    got = decode_json(msg, finite=False)
    assert got["points"][0]["time_ns"] == 1796544000123456000
    assert decode_json(msg) == got
