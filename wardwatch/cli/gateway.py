"""``wardwatch gateway``: gateways from bedside devices into the streams."""

from __future__ import annotations

import typer

app = typer.Typer(help="Gateways from bedside devices into the streams.", no_args_is_help=True)


@app.command("hl7")
def gateway_hl7(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(2575, "--port", min=0, max=65535, help="MLLP port (2575: the HL7 port)"),
) -> None:
    """Listen for IHE PCD-01 ORU^R01 over MLLP; vitals and ECG to Kafka, ACK after Kafka has them
    (README: HL7 v2 gateway)."""
    from wardwatch.hl7.gateway import GatewayUnavailable, run_gateway
    from wardwatch.logs import setup_logging
    from wardwatch.settings import get_settings

    setup_logging(get_settings().log_level)
    try:
        run_gateway(host, port)
    except GatewayUnavailable as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(69) from None  # EX_UNAVAILABLE, as the subscribers
    except OSError as e:  # the port is taken or not ours to bind
        typer.echo(f"error: cannot listen on {host}:{port}: {e.strerror}", err=True)
        raise typer.Exit(2) from None
