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


def up(s: Settings) -> dict[str, str]:
    s.run_dir.mkdir(parents=True, exist_ok=True)
    result = {"kafka": kafka.up(s), "influxdb": influx.up(s)}
    from wardwatch.topics import ensure_topics

    ensure_topics()
    return result


def down(s: Settings) -> dict[str, bool]:
    return {"kafka": kafka.down(s), "influxdb": influx.down(s)}


def status(s: Settings) -> list[ServiceStatus]:
    return [
        ServiceStatus("kafka", kafka.pid(s), kafka.healthy(s), s.kafka_bootstrap),
        ServiceStatus("influxdb", influx.pid(s), influx.healthy(s), s.influx_url),
    ]
