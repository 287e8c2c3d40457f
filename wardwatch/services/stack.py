"""``services up | down | status`` over the local Kafka and InfluxDB."""

from __future__ import annotations

from dataclasses import dataclass

from wardwatch.services import influx, kafka
from wardwatch.settings import Settings


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    endpoint: str


def up(s: Settings, secure: bool = False) -> dict[str, str]:
    """Start both services; ``secure``: Kafka with SASL_SSL, a SCRAM user per role and ACLs, and
    InfluxDB with auth on, a write-only user for the sink and a read-only one for readers."""
    s.run_dir.mkdir(parents=True, exist_ok=True)
    result = {"kafka": kafka.up(s, secure=secure), "influxdb": influx.up(s, secure=secure)}
    from wardwatch.topics import ensure_topics

    ensure_topics(s=kafka.admin_settings(s))
    return result


def down(s: Settings) -> dict[str, bool]:
    return {"kafka": kafka.down(s), "influxdb": influx.down(s)}


def status(s: Settings) -> list[ServiceStatus]:
    return [
        ServiceStatus("kafka", kafka.pid(s), kafka.healthy(kafka.admin_settings(s)), s.kafka_bootstrap),
        ServiceStatus("influxdb", influx.pid(s), influx.healthy(s), s.influx_url),
    ]
