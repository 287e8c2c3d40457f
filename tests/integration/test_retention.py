"""Retention on the real services: Kafka keeps identified payloads (jobs, dead letters) a short
time and stream topics longer; InfluxDB's retention policy drops points after the set days."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from tests.integration.waiting import wait_for
from wardwatch import topics
from wardwatch.kafka_io import topic_config
from wardwatch.services.influx import create_database

pytestmark = pytest.mark.integration


def _retention_ms(s, names):
    return {n: int(v) for n, v in topic_config(names, "retention.ms", s).items()}


def test_topic_retention_is_short_for_identified_payloads(services):
    s = services
    names = (topics.VITALS, topics.JOBS_NOTES, topics.JOBS_IMAGE, topics.DEADLETTER, topics.ALERTS)
    topics.ensure_topics(names)
    # A topic whose retention someone else set (Faust creates the topics its agents read) is
    # brought back to the setting by the next ensure.
    admin = KafkaAdminClient(bootstrap_servers=s.bootstrap_servers)
    try:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topics.ALERTS, configs={"retention.ms": "-1"})],
            incremental=True,
        )
    finally:
        admin.close()
    wait_for(lambda: _retention_ms(s, (topics.ALERTS,))[topics.ALERTS] == -1, 20, "the retention set")
    topics.ensure_topics(names)
    phi, stream = round(s.retention_phi_h * 3600_000), round(s.retention_h * 3600_000)
    wait_for(lambda: _retention_ms(s, (topics.ALERTS,))[topics.ALERTS] == stream, 20, "the retention reset")
    got = _retention_ms(s, names)
    assert got[topics.JOBS_NOTES] == got[topics.DEADLETTER] == phi
    assert got[topics.VITALS] == got[topics.ALERTS] == stream
    assert got[topics.JOBS_IMAGE] < got[topics.VITALS]


def test_influx_retention_policy_is_set(services):
    s = services
    create_database(s)
    db, _, rp = s.influx_bucket.partition("/")
    q = urllib.parse.urlencode({"q": f'SHOW RETENTION POLICIES ON "{db}"'})
    with urllib.request.urlopen(f"{s.influx_url}/query?{q}", timeout=10) as r:
        series = json.load(r)["results"][0]["series"][0]
    row = dict(zip(series["columns"], next(v for v in series["values"] if v[0] == rp), strict=True))
    assert row["duration"] == f"{s.influx_retention_d * 24}h0m0s"
