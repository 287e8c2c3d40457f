"""``wardwatch services``: the local Kafka and InfluxDB."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import console, services_table

app = typer.Typer(help="Local Kafka and InfluxDB on loopback.", no_args_is_help=True)


@app.command("up")
def services_up(
    secure: bool = typer.Option(
        False,
        "--secure",
        help="Kafka over SASL_SSL (SCRAM-SHA-512, a user per role, ACLs); a new run folder only",
    ),
) -> None:
    """Start Kafka and InfluxDB (fetching/building them once into the cache) and wait for health."""
    from wardwatch.services import influx, kafka, stack
    from wardwatch.settings import get_settings

    s = get_settings()
    with console.status("starting Kafka and InfluxDB (first run fetches and builds them)"):
        result = stack.up(s, secure=secure)
    for name, what in result.items():
        console.print(f"[green]{name}[/]: {what}")
    if kafka.is_secure(s):
        console.print("Kafka clients of each role (worker, gateway, web, admin) take, e.g. for a worker:")
        w = kafka.role_settings(s, "worker")
        console.print(
            "  WARDWATCH_KAFKA_SECURITY_PROTOCOL=SASL_SSL WARDWATCH_KAFKA_USERNAME=worker "
            f"WARDWATCH_KAFKA_PASSWORD_FILE={w.kafka_password_file} "
            f"WARDWATCH_KAFKA_SSL_CAFILE={w.kafka_ssl_cafile}"
        )
    if influx.is_secure(s):
        console.print(
            "InfluxDB (auth on): the sink writes with "
            f"WARDWATCH_INFLUX_TOKEN_FILE={influx.secrets_dir(s) / 'writer.token'}; readers "
            "(web, CLI, Grafana) read with "
            f"WARDWATCH_INFLUX_READ_TOKEN_FILE={influx.secrets_dir(s) / 'reader.token'}"
        )


@app.command("down")
def services_down() -> None:
    """Stop exactly the processes that ``services up`` started."""
    from wardwatch.services import stack
    from wardwatch.settings import get_settings

    for name, stopped in stack.down(get_settings()).items():
        console.print(f"{name}: {'stopped' if stopped else 'was not running'}")


@app.command("status")
def services_status(json_out: bool = typer.Option(False, "--json")) -> None:
    """Show pid, health and endpoint of each service."""
    from wardwatch.services import stack
    from wardwatch.settings import get_settings

    rows = stack.status(get_settings())
    if json_out:
        print(json.dumps([r.__dict__ for r in rows]))
        raise typer.Exit(0 if all(r.healthy for r in rows) else 1)
    console.print(services_table(rows))
    raise typer.Exit(0 if all(r.healthy for r in rows) else 1)


@app.command("kafka-files")
def services_kafka_files(
    out: Path = typer.Option(..., "--out", help="the broker's config folder (the broker alone mounts it)"),
    ca_out: Path = typer.Option(..., "--ca-out", help="where the CA certificate goes (clients mount it)"),
    host: str = typer.Option("kafka", "--host", help="the broker's host name, in its certificate"),
    owner: int | None = typer.Option(None, "--owner", help="uid (and gid) to own the broker's files"),
) -> None:
    """The SASL_SSL broker of docker-compose.yml: a CA, a certificate for HOST, the broker's
    server.properties and a start script that formats its storage with a SCRAM user per role.
    Passwords come from KAFKA_ADMIN_PASSWORD, KAFKA_WORKER_PASSWORD, KAFKA_GATEWAY_PASSWORD and
    KAFKA_WEB_PASSWORD (never printed)."""
    import os

    from wardwatch.services import kafka

    passwords = {r: os.environ.get(f"KAFKA_{r.upper()}_PASSWORD", "") for r in kafka.ROLES}
    try:
        kafka.compose_broker_files(out, ca_out, host, passwords, owner=owner)
    except ValueError as e:
        console.print(f"[red]{e}[/]")
        raise typer.Exit(2) from e
    console.print(f"broker files in {out}; CA certificate in {ca_out / 'ca.pem'}")


@app.command("kafka-init")
def services_kafka_init() -> None:
    """As the admin role of the configured broker: create WardWatch's topics (with their
    retention) and grant each role its least-privilege ACLs (idempotent; the compose file's
    ``kafka-init`` service)."""
    from wardwatch.services import kafka
    from wardwatch.settings import get_settings
    from wardwatch.topics import ensure_topics

    s = get_settings()
    created = ensure_topics(s=s)
    kafka.grant_role_acls(s)
    console.print(f"topics created: {len(created)}; ACLs granted to {', '.join(kafka.role_acls())}")
