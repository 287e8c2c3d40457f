"""InfluxDB with auth on (``services up --secure``): a write-only token for the sink, a
read-only token for readers, and nothing without a token. Its own server (fresh run folder,
free ports) beside the session's stack."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from wardwatch.influx_read import flux_rows
from wardwatch.services import influx
from wardwatch.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secure(services, tmp_path_factory, free_ports):
    port, rpc = free_ports(2)
    s = Settings(
        run_dir=tmp_path_factory.mktemp("secure-influx"),
        cache_dir=services.cache_dir,
        influx_port=port,
        influx_rpc_port=rpc,
        influx_url=f"http://127.0.0.1:{port}",
        influx_bucket="wardwatch_secure/autogen",
    )
    assert influx.up(s, secure=True) == "started (auth on)"
    yield s
    influx.down(s)


def _write(s: Settings, token: str, patient: str) -> None:
    with InfluxDBClient(url=s.influx_url, token=token, org="-") as c:
        c.write_api(write_options=SYNCHRONOUS).write(
            s.influx_bucket,
            record=f"vitals,patient={patient} hr_bpm=72 {int(datetime.now(UTC).timestamp())}",
            write_precision="s",
        )


def _flux(s: Settings, patient: str) -> str:
    return (
        f'from(bucket: "{s.influx_bucket}") |> range(start: -1h)'
        f' |> filter(fn: (r) => r._measurement == "vitals" and r.patient == "{patient}")'
    )


def test_each_token_does_only_its_job(secure):
    s = secure
    writer, reader = influx.role_settings(s, "writer"), influx.role_settings(s, "reader")
    patient = f"A-{uuid.uuid4().hex[:6]}"
    _write(s, writer.influx_token_value(), patient)  # the sink writes
    assert [r["_value"] for r in flux_rows(_flux(s, patient), reader)] == [72.0]  # readers read
    with pytest.raises(ApiException) as e:
        _write(s, reader.influx_token_value(), patient)  # a reader cannot write
    assert e.value.status == 403
    with pytest.raises(ApiException) as e:
        flux_rows(_flux(s, patient), writer)  # the sink's token reads nothing
    assert "requires READ" in str(e.value.body)  # (1.8's Flux answers it with HTTP 500)
    for token in ("", "reader:wrong-password"):
        with pytest.raises(ApiException) as e:
            _write(s, token, patient)
        assert e.value.status == 401


def test_a_restart_keeps_the_users(secure):
    s = secure
    assert influx.down(s)
    assert influx.up(s) == "started (auth on)"  # the run folder stays secure
    patient = f"B-{uuid.uuid4().hex[:6]}"
    _write(s, influx.role_settings(s, "writer").influx_token_value(), patient)
    assert len(flux_rows(_flux(s, patient), influx.role_settings(s, "reader"))) == 1
