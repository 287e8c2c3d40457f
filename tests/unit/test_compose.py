"""The production compose file gives each service only the credential it needs (it is not run
here: no Docker engine; this reads it as text)."""

from __future__ import annotations

import re
from pathlib import Path

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _blocks() -> dict[str, str]:
    """Each top-level key (``x-wardwatch-env``, ``services``, ...) and each service, with its text:
    a top-level key runs to the next line at column 0, a service to the next at column 2."""
    out: dict[str, str] = {}
    top = service = ""
    for line in COMPOSE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            top, service = line.split(":")[0], ""
            out[top] = ""
        elif top == "services" and re.match(r"  [\w-]+:", line):
            service = line.split(":")[0].strip()
            out[service] = ""
        out[service or top] += line + "\n"
    return out


def test_the_admin_token_goes_to_influxdb_setup_only():
    blocks = _blocks()
    holders = {name for name, text in blocks.items() if "${INFLUX_TOKEN" in text}
    assert holders == {"influxdb"}


def test_the_sink_writes_and_grafana_reads_with_their_own_tokens():
    """Only the sink (``worker --role sink``) holds an InfluxDB token among the workers: the
    stream workers never talk to InfluxDB."""
    blocks = _blocks()
    assert '"--role", "sink"' in blocks["sink"] and '"--role", "stream"' in blocks["worker"]
    holders = {name for name, text in blocks.items() if "WARDWATCH_INFLUX_TOKEN" in text}
    assert holders == {"sink"} and "WARDWATCH_INFLUX_TOKEN: ${INFLUX_WRITE_TOKEN:?" in blocks["sink"]
    assert "INFLUX_TOKEN: ${INFLUX_READ_TOKEN:?" in blocks["grafana"]
    assert "WARDWATCH_LOG_SALT: ${WARDWATCH_LOG_SALT:?" in blocks["x-wardwatch-env"]
