"""Run the Faust worker with every stream agent registered."""

from __future__ import annotations

import importlib
import sys

# Agent modules, imported explicitly so that the worker registers them (no scan of the package).
AGENT_MODULES = [
    "streams.vitals.agents",
    "streams.labs.agents",
    "streams.admissions.agents",
    "streams.ecg.agents",
    "streams.alerts.agents",
    "streams.sinks.agents",
    "streams.patients",
]


def load_agents() -> None:
    for name in AGENT_MODULES:
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
    from streams.app import app

    load_agents()
    ensure_worker_topics(app)
    sys.argv = ["wardwatch-worker", "worker", "--loglevel", log_level, "--without-web"]
    app.main()
