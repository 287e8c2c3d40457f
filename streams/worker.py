"""Run the Faust worker with every stream agent registered."""

from __future__ import annotations

import importlib
import sys

# Agent modules, imported explicitly so that the worker registers them (no scan of the package),
# by ``worker_role``: the InfluxDB sink runs in "all" and "sink" workers, the rest in "all" and
# "stream" workers; every worker reports its own pipeline metrics and trims its own freed memory.
STREAM_MODULES = [
    "streams.vitals.agents",
    "streams.labs.agents",
    "streams.admissions.agents",
    "streams.ecg.agents",
    "streams.alerts.agents",
    "streams.patients",
]
SINK_MODULES = ["streams.sinks.agents"]
ROLE_MODULES = {
    "all": [*STREAM_MODULES, *SINK_MODULES],
    "stream": STREAM_MODULES,
    "sink": SINK_MODULES,
}


def load_agents() -> None:
    from wardwatch.settings import get_settings

    for name in [*ROLE_MODULES[get_settings().worker_role], "streams.pipeline_report", "streams.memory"]:
        importlib.import_module(name)


def ensure_worker_topics(app) -> None:
    """Create every topic the worker uses, table changelogs included (compacted), before it
    starts: a changelog that Faust creates itself at start-up can still show 0 partitions in the
    consumer's metadata when the first table write checks co-partitioning (PartitionsMismatch,
    seen on fresh brokers), which would crash that agent."""
    from wardwatch.topics import ALL_TOPICS, ensure_topics

    ensure_topics(ALL_TOPICS)
    ensure_topics(
        tuple(t.changelog_topic_name for t in app.tables.values()), config={"cleanup.policy": "compact"}
    )


def run(log_level: str = "info") -> None:
    from streams import stop_deadline
    from streams.app import app
    from wardwatch.settings import get_settings

    stop_deadline.install(get_settings().stop_deadline_s)
    load_agents()
    ensure_worker_topics(app)
    sys.argv = ["wardwatch-worker", "worker", "--loglevel", log_level, "--without-web"]
    app.main()
