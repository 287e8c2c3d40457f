"""Read from the configured InfluxDB with Flux: the one client every reader (CLI, web station,
load test, dashboard checks) opens, so the URL, token and org come from the settings alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wardwatch.settings import Settings, get_settings

if TYPE_CHECKING:
    from influxdb_client import InfluxDBClient


def influx_client(s: Settings | None = None) -> InfluxDBClient:
    """A synchronous client for ``s`` (default: the process settings) with the read token
    (``influx_read_token``, else ``influx_token``); close it when done."""
    from influxdb_client import InfluxDBClient

    s = s or get_settings()
    return InfluxDBClient(url=s.influx_url, token=s.influx_read_token_value(), org=s.influx_org)


def flux_rows(flux: str, s: Settings | None = None) -> list[dict[str, Any]]:
    """Every record of a Flux query as its values dict (``_time``, ``_value``, tags...), in
    table order. Raises the client's ``ApiException`` on a Flux error."""
    with influx_client(s) as client:
        return [dict(rec.values) for table in client.query_api().query(flux) for rec in table.records]


def flux_str(value: str) -> str:
    """``value`` as a Flux string literal (quoted and escaped), for ids put into a query.

    >>> flux_str('P"1\\\\')
    '"P\\\\"1\\\\\\\\"'
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'
