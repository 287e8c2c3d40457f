"""The sink's own line-protocol writer against influxdb_client's ``Point.to_line_protocol`` (the
reference it replaced: the same line for every point the library accepts, at a fraction of the
CPU, which the load profile showed at ~10 % of a worker)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from streams.sinks.influx import to_line

#: names with the characters line protocol escapes, and plain ones
names = st.text(alphabet=st.sampled_from('ab_ ,="\\\n\t\r#é1'), min_size=0, max_size=6)
field_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | names
)
points = st.fixed_dictionaries(
    {
        "measurement": names.filter(bool),
        "tags": st.dictionaries(names, names | st.none() | st.integers(), max_size=4),
        "fields": st.dictionaries(names, field_values, max_size=5),
        "time_ns": st.integers(0, 2**62),
    }
)


def reference(p: dict[str, Any]) -> str:
    pt = Point(p["measurement"]).time(int(p["time_ns"]), WritePrecision.NS)
    for k, v in p["tags"].items():
        pt = pt.tag(k, v)
    for k, v in p["fields"].items():
        pt = pt.field(k, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # a measurement starting with '#'
        return pt.to_line_protocol()


@settings(max_examples=500, deadline=None)
@given(p=points)
def test_the_same_line_as_the_client_library(p):
    expected = reference(p)
    if p["measurement"].startswith("#"):  # InfluxDB would read a comment: the point would vanish
        with pytest.raises(ValueError, match="comment"):
            to_line(p)
    elif not expected:  # no field the library would write
        with pytest.raises(ValueError, match="no writable field"):
            to_line(p)
    else:
        assert to_line(p) == expected


@pytest.mark.parametrize("bad", [[1], {"a": 1}, b"x"])
def test_a_field_value_of_another_type_is_refused(bad):
    with pytest.raises(ValueError, match="not supported"):
        to_line({"measurement": "m", "tags": {}, "fields": {"f": bad}, "time_ns": 1})


@pytest.mark.parametrize("t", [float("inf"), float("-inf"), float("nan"), 2**63, -(2**63) - 1])
def test_a_time_that_is_not_a_64_bit_nanosecond_count_is_refused(t):
    """A ``ValueError`` (the sink dead-letters it as malformed), never another error that would
    fail the batch (hypothesis found ``"time_ns": Infinity`` raising ``OverflowError``)."""
    with pytest.raises(ValueError):
        to_line({"measurement": "m", "tags": {}, "fields": {"f": 1.0}, "time_ns": t})
