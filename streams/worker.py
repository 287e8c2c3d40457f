"""Run the Faust worker with every stream agent registered."""

from __future__ import annotations

import importlib
import sys

# Agent modules, imported explicitly so that the worker registers them (no scan of the package),
# by the parts of its ``worker_role`` (:func:`wardwatch.settings.role_parts`); every worker
# reports its own pipeline metrics and trims its own freed memory.
PART_MODULES = {
    # streams.patients last: it drops every patient state the worker holds on a discharge
    "ward": [
        "streams.vitals.agents",
        "streams.labs.agents",
        "streams.admissions.agents",
        "streams.alerts.agents",
        "streams.patients",
    ],
    "ecg": ["streams.ecg.agents"],
    "sink": ["streams.sinks.agents"],
}
#: what a worker with the ECG agent alone runs for its patients' discharges
ECG_ALONE_MODULES = ["streams.ecg.discharges"]
EVERY_WORKER = ["streams.pipeline_report", "streams.memory"]


def role_modules(parts: frozenset[str]) -> list[str]:
    """The agent modules of a worker running ``parts``, in import order.

    >>> role_modules(frozenset({"ecg"}))
    ['streams.ecg.agents', 'streams.ecg.discharges', 'streams.pipeline_report', 'streams.memory']
    """
    from wardwatch.settings import WORKER_PARTS

    names = [m for part in WORKER_PARTS if part in parts for m in PART_MODULES[part]]
    if parts == {"ecg"}:
        names += ECG_ALONE_MODULES
    return names + EVERY_WORKER


def load_agents() -> None:
    from wardwatch.settings import get_settings

    for name in role_modules(get_settings().worker_parts):
        importlib.import_module(name)


def ensure_worker_topics(app) -> None:
    """Create every topic the worker uses, table changelogs included (compacted, with their
    tables' ``extra_topic_configs``: Faust's own creation then finds them there), before it
    starts: a changelog that Faust creates itself at start-up can still show 0 partitions in the
    consumer's metadata when the first table write checks co-partitioning (PartitionsMismatch,
    seen on fresh brokers), which would crash that agent."""
    from wardwatch.topics import ALL_TOPICS, ensure_topics

    ensure_topics(ALL_TOPICS)
    for table in app.tables.values():  # with the table's own topic config (its segment size)
        ensure_topics(
            (table.changelog_topic_name,), config={"cleanup.policy": "compact", **table.extra_topic_configs}
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
