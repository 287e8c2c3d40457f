"""Kafka over SASL_SSL with a SCRAM user per role and ACLs (``services up --secure``).

A secure broker of its own (fresh run folder, free ports) next to the session's stack: a client
without credentials, with a wrong password or over plaintext is refused; a bedside gateway may
write vitals but not acknowledge alarms; the web station may; and the real Faust worker, given
the worker role's settings only, turns a gateway's reading into an alert that the web role reads.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAuthorizationFailedError
from pydantic import SecretStr

from wardwatch import topics
from wardwatch.kafka_io import client_config, consume
from wardwatch.services import kafka
from wardwatch.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secure(services, tmp_path_factory, free_ports):
    port, ctrl = free_ports(2)
    s = Settings(
        run_dir=tmp_path_factory.mktemp("secure-kafka"),
        cache_dir=services.cache_dir,
        kafka_port=port,
        kafka_controller_port=ctrl,
        kafka_bootstrap=f"127.0.0.1:{port}",
    )
    assert kafka.up(s, secure=True).startswith("started")
    assert kafka.is_secure(s)
    topics.ensure_topics(s=kafka.role_settings(s, "admin"))
    yield s
    kafka.down(s)


def _producer(s: Settings, **extra) -> KafkaProducer:
    return KafkaProducer(**client_config(s), acks="all", max_block_ms=10_000, **extra)


def _send(s: Settings, topic: str, key: str, value: dict) -> None:
    p = _producer(s)
    try:
        p.send(topic, key=key.encode(), value=json.dumps(value).encode()).get(timeout=15)
    finally:
        p.close()


def test_clients_without_valid_credentials_are_refused(secure):
    plaintext = secure.model_copy()  # PLAINTEXT to a SASL_SSL listener
    with pytest.raises(KafkaError):
        KafkaConsumer(**client_config(plaintext), request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
    wrong = kafka.role_settings(secure, "gateway").model_copy(
        update={"kafka_password_file": None, "kafka_password": SecretStr("not-the-password")}
    )
    with pytest.raises(KafkaError):
        _send(wrong, topics.VITALS, "P-x", {"x": 1})


def test_each_role_writes_only_what_it_may(secure):
    gateway, web = kafka.role_settings(secure, "gateway"), kafka.role_settings(secure, "web")
    _send(gateway, topics.VITALS, "P-gw", {"patient_id": "P-gw"})  # devices feed vitals
    with pytest.raises(TopicAuthorizationFailedError):
        _send(gateway, topics.ALERTS_ACK, "P-gw", {"action": "acknowledge"})  # not alarms
    _send(web, topics.ALERTS_ACK, "P-gw", {"action": "acknowledge"})  # the central station may
    with pytest.raises(TopicAuthorizationFailedError):
        _send(web, topics.VITALS, "P-gw", {"patient_id": "P-gw"})  # but never fakes a reading


def test_the_worker_runs_on_its_role_alone(secure, start_worker):
    worker = kafka.role_settings(secure, "worker")
    env = {
        "WARDWATCH_APP_ID": f"wardwatch-secure-{uuid.uuid4().hex[:6]}",
        "WARDWATCH_KAFKA_BOOTSTRAP": secure.kafka_bootstrap,
        "WARDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "WARDWATCH_KAFKA_USERNAME": "worker",
        "WARDWATCH_KAFKA_PASSWORD_FILE": str(worker.kafka_password_file),
        "WARDWATCH_KAFKA_SSL_CAFILE": str(worker.kafka_ssl_cafile),
    }
    w = start_worker(["worker"], env=env, ready="Worker ready")
    web = kafka.role_settings(secure, "web")
    pid = f"S-{uuid.uuid4().hex[:6]}"
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    sick = {  # NEWS2 19: every parameter in its highest band (RCP 2017)
        "hr_bpm": 135,
        "spo2_pct": 88,
        "rr_bpm": 28,
        "sbp_mmhg": 88,
        "dbp_mmhg": 50,
        "temp_c": 39.5,
        "o2": "oxygen",
        "acvpu": "V",
    }
    reading = {"patient_id": pid, "bed": "S-1", "ts": ts, **sick}
    _send(kafka.role_settings(secure, "gateway"), topics.VITALS, pid, reading)
    seen = [
        ev
        for _, key, ev in consume(
            [topics.ALERTS],
            group_id=f"wardwatch-web-{uuid.uuid4().hex[:6]}",
            from_beginning=True,
            timeout_s=60,
            stop=lambda got: any(isinstance(v, dict) and v.get("patient_id") == pid for _, v in got),
            s=web,
        )
        if key == pid
    ]
    assert [e["type"] for e in seen] == ["raised"], w.output()[-2000:]
    # this module's broker stops with its fixture: a worker left running would retry it for the
    # rest of the session (the start_worker factory stops its workers only at the session's end)
    w.stop()
