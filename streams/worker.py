"""Run the Faust worker with every stream agent registered."""

from __future__ import annotations

import importlib

# Agent modules, imported explicitly so that the worker registers them (no scan of the package).
AGENT_MODULES = [
    "streams.vitals.agents",
    "streams.ecg.agents",
    "streams.alerts.agents",
    "streams.sinks.agents",
]


def load_agents() -> None:
    for name in AGENT_MODULES:
        importlib.import_module(name)


def run(log_level: str = "info") -> None:
    import sys

    from streams.app import app

    load_agents()

    sys.argv = ["wardwatch-worker", "worker", "--loglevel", log_level, "--without-web"]
    app.main()
