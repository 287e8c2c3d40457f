"""``wardwatch services``: the local Kafka and InfluxDB."""

from __future__ import annotations

import json

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
