"""``wardwatch users``: the people who may act on alarms (the users file of ``wardwatch.identity``).

The file is ``WARDWATCH_USERS_FILE`` (default ``users.json`` in the run folder), JSON with argon2id
hashes, written with mode 0600. Passwords come from a hidden prompt (asked twice) or from a file
(``--password-file``), never from an argument, which other users of the machine could read in the
process list.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wardwatch.cli.render import console, fail

app = typer.Typer(help="Users who may acknowledge and silence alarms.", no_args_is_help=True)


def read_password(password_file: Path | None, prompt: str, confirm: bool = False) -> str:
    """A password from the first line of ``password_file``, else from a hidden prompt."""
    if password_file is not None:
        try:
            return (password_file.read_text().splitlines() or [""])[0]
        except OSError as e:
            raise fail(f"cannot read the password file {password_file}: {e.strerror}") from None
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


@app.command("add")
def users_add(
    username: str = typer.Argument(..., help="login name: a-z 0-9 . _ -"),
    role: str = typer.Option(..., "--role", help="viewer, nurse, physician or admin"),
    name: str = typer.Option("", "--name", help="full name shown with their actions"),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="read the password from this file"
    ),
) -> None:
    """Add a user (or replace one: a new password or role)."""
    from wardwatch.identity import ROLES, add_user
    from wardwatch.settings import get_settings

    if role not in ROLES:
        raise typer.BadParameter(f"--role must be one of {', '.join(sorted(ROLES))}")
    path = get_settings().users_path
    password = read_password(password_file, f"Password for {username}", confirm=True)
    try:
        user = add_user(path, username, password, role, name)
    except ValueError as e:
        raise fail(str(e)) from None
    console.print(f"{user.username} ({user.name}, {user.role}) saved in {path}")


@app.command("list")
def users_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """The users: username, name and role (never the password hashes)."""
    from rich.table import Table

    from wardwatch.identity import load_users
    from wardwatch.settings import get_settings

    path = get_settings().users_path
    try:
        users = load_users(path)
    except (OSError, ValueError) as e:
        raise fail(f"cannot read the users file {path}: {e}") from None
    rows = [
        {"username": u, "name": e.get("name", u), "role": e.get("role", "viewer")}
        for u, e in sorted(users.items())
    ]
    if json_out:
        print(json.dumps(rows))
        return
    t = Table("username", "name", "role", title=str(path))
    for r in rows:
        t.add_row(r["username"], r["name"], r["role"])
    console.print(t)
