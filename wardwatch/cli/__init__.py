"""The ``wardwatch`` command. Thin: every command parses flags and calls one function elsewhere.

One module per sub-app (``wardwatch services``: :mod:`.services`, ``train``: :mod:`.train`,
``eval``: :mod:`.evaluate`, ``replay``: :mod:`.replay`, ``batch``: :mod:`.batch`, ``alerts``:
:mod:`.alerts`, ``calibrate``: :mod:`.calibrate`, ``bench``:
:mod:`.bench`, ``gateway``: :mod:`.gateway`, ``patients``: :mod:`.patients`; ``web``, one
command: :mod:`.web`); the top-level commands (``worker``, ``news2``,
``simulate``, ``demo``) and the root app in :mod:`.toplevel`; rich tables in :mod:`.render`.

Heavy imports (Faust, TensorFlow, spaCy) happen inside the commands that need them.
"""

from __future__ import annotations

from wardwatch.cli import (
    alerts,
    batch,
    bench,
    calibrate,
    evaluate,
    gateway,
    patients,
    replay,
    services,
    train,
    users,
    web,
)
from wardwatch.cli.toplevel import app

app.add_typer(services.app, name="services")
app.add_typer(train.app, name="train")
app.add_typer(evaluate.app, name="eval")
app.add_typer(replay.app, name="replay")
app.add_typer(batch.app, name="batch")
app.add_typer(alerts.app, name="alerts")
app.add_typer(users.app, name="users")
app.add_typer(calibrate.app, name="calibrate")
app.add_typer(bench.app, name="bench")
app.add_typer(gateway.app, name="gateway")
app.add_typer(patients.app, name="patients")
app.command("web")(web.web)

__all__ = ["app", "main"]


def main() -> None:
    app()
