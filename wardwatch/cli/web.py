"""``wardwatch web``: the web central station."""

from __future__ import annotations

import typer

from wardwatch.cli.render import console


def web(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Serve the web central station: live ward, alarms to acknowledge, ECG, trends (login needed)."""
    from wardwatch.logs import setup_logging
    from wardwatch.settings import get_settings

    s = get_settings()
    try:
        s.auth_secret_value()
    except (ValueError, OSError) as e:
        console.print(
            f"[red]wardwatch web cannot start: {e}.[/] The station signs each user's token with this "
            "secret, and the alert consumer verifies it with the same one."
        )
        raise typer.Exit(2) from None
    if not s.users_path.exists():
        console.print(f"[yellow]no users file at {s.users_path}: add one with `wardwatch users add`[/]")
    from wardwatch.web.server import serve

    setup_logging(log_level.upper())
    console.print(f"WardWatch central station on http://{host}:{port}")
    serve(s, host, port, log_level.lower())
