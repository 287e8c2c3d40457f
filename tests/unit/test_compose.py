"""The production compose file gives each service only the credential it needs (it is not run
here: no Docker engine; this reads it as text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
    assert '"--role", "sink"' in blocks["sink"] and '"--role", "ward"' in blocks["worker"]
    assert '"--role", "ecg"' in blocks["worker-ecg"]
    holders = {name for name, text in blocks.items() if "WARDWATCH_INFLUX_TOKEN" in text}
    assert holders == {"sink"} and "WARDWATCH_INFLUX_TOKEN: ${INFLUX_WRITE_TOKEN:?" in blocks["sink"]
    assert "INFLUX_TOKEN: ${INFLUX_READ_TOKEN:?" in blocks["grafana"]
    assert "WARDWATCH_LOG_SALT: ${WARDWATCH_LOG_SALT:?" in blocks["x-wardwatch-env"]


PASSWORDS = {r: f"{r}-password-0123456789" for r in ("admin", "worker", "gateway", "web")}


def test_kafka_is_sasl_ssl_and_each_client_holds_only_its_own_role():
    """The broker runs the files ``kafka-setup`` writes; every Kafka client takes SASL_SSL with
    the CA alone, the workers as ``worker``, the simulator as ``gateway``; only the setup (for
    the SCRAM users) and ``kafka-init`` hold the admin password."""
    blocks = _blocks()
    env = blocks["x-wardwatch-env"]
    assert "WARDWATCH_KAFKA_SECURITY_PROTOCOL: SASL_SSL" in env and "PLAINTEXT" not in COMPOSE.read_text()
    assert "WARDWATCH_KAFKA_USERNAME: worker" in env and "${KAFKA_WORKER_PASSWORD:?" in env
    assert (
        '"/kafka-config/start.sh"' in blocks["kafka"] and "kafka-config:/kafka-config:ro" in blocks["kafka"]
    )
    assert '"kafka-files"' in blocks["kafka-setup"] and '"--host", "kafka"' in blocks["kafka-setup"]
    assert {n for n, t in blocks.items() if "${KAFKA_ADMIN_PASSWORD" in t} == {"kafka-setup", "kafka-init"}
    assert {n for n, t in blocks.items() if "kafka-config:" in t} == {"kafka-setup", "kafka", "volumes"}
    for client in ("worker", "worker-ecg", "sink", "simulator", "kafka-init"):
        assert "kafka-ca:/kafka-ca:ro" in blocks[client], client
    assert "WARDWATCH_KAFKA_USERNAME: gateway" in blocks["simulator"]
    assert "${KAFKA_GATEWAY_PASSWORD:?" in blocks["simulator"]


def test_the_compose_broker_files(tmp_path):
    """What ``wardwatch services kafka-files`` writes: a certificate for the host name the
    clients dial, the secure listener on every interface advertised under that name, the
    controller on loopback only, a SCRAM user per role at format time, private files, and the
    CA certificate (no key) for the clients."""
    from cryptography import x509

    from wardwatch.services import kafka

    out, ca_out = tmp_path / "config", tmp_path / "ca"
    kafka.compose_broker_files(out, ca_out, "kafka", PASSWORDS)
    props = dict(
        line.split("=", 1) for line in (out / "server.properties").read_text().splitlines() if "=" in line
    )
    assert props["listeners"] == "SASL_SSL://:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "SASL_SSL://kafka:9092"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["ssl.keystore.location"] == "/kafka-config/tls/broker.pem"
    assert props["log.dirs"] == "/var/lib/kafka/data"
    # a production broker keeps Kafka's own thread counts (only the local one is cut down)
    assert not {"num.io.threads", "num.network.threads", "background.threads"} & set(props)
    start = (out / "start.sh").read_text()
    for role, pw in PASSWORDS.items():
        assert f"--add-scram=SCRAM-SHA-512=[name={role},password={pw}]" in start
    assert start.rstrip().endswith('exec /opt/kafka/bin/kafka-server-start.sh "$props"')
    for f in ("server.properties", "start.sh", "tls/broker.pem", "tls/ca.pem"):
        assert (out / f).stat().st_mode & 0o077 == 0, f
    ca = (ca_out / "ca.pem").read_bytes()
    assert b"PRIVATE KEY" not in ca and ca == (out / "tls" / "ca.pem").read_bytes()
    broker = x509.load_pem_x509_certificates((out / "tls" / "broker.pem").read_bytes())[0]
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kafka" in names.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize(
    "bad", ["", "short", "has'quote-0123456789", 'has"dq-0123456789', "sp ace-0123456789"]
)
def test_a_password_the_broker_files_cannot_quote_is_refused(tmp_path, bad):
    from wardwatch.services import kafka

    with pytest.raises(ValueError, match="worker"):
        kafka.compose_broker_files(tmp_path / "c", tmp_path / "ca", "kafka", {**PASSWORDS, "worker": bad})
    assert not (tmp_path / "c" / "start.sh").exists()


def test_the_local_broker_on_a_small_machine_runs_fewer_threads(tmp_path):
    from wardwatch.services import kafka

    small = kafka.server_properties([], 9093, tmp_path, 8, kafka.local_threads(2))
    props = dict(line.split("=", 1) for line in small.splitlines() if "=" in line)
    threads = ("num.io.threads", "num.network.threads", "background.threads")
    assert [props[k] for k in threads] == ["2", "2", "2"]
    assert "num.io.threads" not in kafka.server_properties([], 9093, tmp_path, 8, kafka.local_threads(32))
