"""``wardwatch alerts``: the tail's filters and the history's Flux query (the commands themselves
run in tests/e2e/test_cli_alarms.py and tests/integration/test_alarm_lifecycle.py)."""

from __future__ import annotations

from wardwatch.cli.alerts import history_flux, matches


def test_tail_filters_by_bed_and_minimum_priority():
    ev = {"bed": "ICU-1", "priority": "medium"}
    assert matches(ev, None, None) and matches(ev, "ICU-1", None)
    assert not matches(ev, "ICU-2", None)
    assert matches(ev, None, "low") and matches(ev, None, "medium") and not matches(ev, None, "high")
    assert not matches({"bed": "ICU-1"}, None, "low")  # no priority: not an alert event


def test_history_query_quotes_the_patient_id():
    flux = history_flux("wardwatch/autogen", 'P"1) or (true', "24h")
    assert 'r.patient == "P\\"1) or (true"' in flux
    assert "range(start: -24h)" in flux and 'r._measurement == "alerts"' in flux
    assert flux.index("pivot(") < flux.index('sort(columns: ["_time"])')
