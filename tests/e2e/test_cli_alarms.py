"""``wardwatch users`` and ``wardwatch alerts`` as a person uses them, without services: users from
a prompt or a file, failed logins, and clear errors (with exit codes) when Kafka is not there.
The paths through the real broker are in tests/integration/test_alarm_lifecycle.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))


def run(*args: str, env: dict, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``wardwatch ARGS`` with ``env`` over the test's environment (a None value unsets)."""
    full = {**os.environ, "COLUMNS": "200", **env}
    return subprocess.run(
        [WARDWATCH, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in full.items() if v is not None},
    )


def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path) -> dict:
    return {
        "WARDWATCH_USERS_FILE": str(tmp_path / "users.json"),
        "WARDWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{dead_port()}",
    }


def test_users_from_a_prompt_and_a_file_listed_without_hashes(env, tmp_path):
    r = run(
        "users",
        "add",
        "anna",
        "--role",
        "nurse",
        "--name",
        "Anna Berg",
        env=env,
        stdin="s3cret-pass\ns3cret-pass\n",
    )
    assert r.returncode == 0, r.stderr
    assert "s3cret-pass" not in r.stdout
    r = run("users", "add", "ben", "--role", "nurse", env=env, stdin="one-password\nanother-one\n" * 3)
    assert r.returncode != 0  # the confirmation did not match
    pw = tmp_path / "pw"
    pw.write_text("viewer-password\n")
    assert run("users", "add", "vic", "--role", "viewer", "--password-file", str(pw), env=env).returncode == 0
    assert run("users", "add", "eve", "--role", "root", "--password-file", str(pw), env=env).returncode == 2
    r = run("users", "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {"username": "anna", "name": "Anna Berg", "role": "nurse"},
        {"username": "vic", "name": "vic", "role": "viewer"},
    ]
    human = run("users", "list", env=env)
    assert "Anna Berg" in human.stdout and "argon2" not in human.stdout + r.stdout
    assert (Path(env["WARDWATCH_USERS_FILE"]).stat().st_mode & 0o777) == 0o600


def test_ack_needs_the_right_password_and_a_secret(env, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("right-password\n")
    assert run("users", "add", "anna", "--role", "nurse", "--password-file", str(pw), env=env).returncode == 0
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong-password\n")
    r = run("alerts", "ack", "P1", "al-1", "--user", "anna", "--password-file", str(wrong), env=env)
    assert r.returncode == 1 and "unknown user or wrong password" in r.stderr
    r = run("alerts", "ack", "P1", "al-1", "--user", "anna", "--password-file", str(pw), env=env, stdin="")
    assert r.returncode == 3 and "cannot reach Kafka" in r.stderr  # authenticated; no broker
    no_secret = {**env, "WARDWATCH_AUTH_SECRET_FILE": None, "WARDWATCH_AUTH_SECRET": None}
    r = run("alerts", "ack", "P1", "al-1", "--user", "anna", "--password-file", str(pw), env=no_secret)
    assert r.returncode == 2 and "auth secret must be at least 32 bytes" in r.stderr
    missing = {**env, "WARDWATCH_AUTH_SECRET_FILE": str(tmp_path / "nowhere")}
    r = run("alerts", "ack", "P1", "al-1", "--user", "anna", "--password-file", str(pw), env=missing)
    assert r.returncode == 2 and "cannot read the auth secret file" in r.stderr
    r = run(
        "alerts",
        "ack",
        "P1",
        "al-1",
        "--silence",
        "900",
        "--user",
        "anna",
        "--password-file",
        str(pw),
        env=env,
    )
    assert r.returncode == 2 and "--silence" in r.stderr


def test_tail_says_when_kafka_cannot_be_reached(env):
    t0 = time.monotonic()
    r = run("alerts", "tail", "--priority", "high", env=env, timeout=30)
    elapsed = time.monotonic() - t0
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert "cannot reach Kafka at 127.0.0.1:" in r.stderr and "Traceback" not in r.stderr
    assert elapsed < 15.0, elapsed
    assert run("alerts", "tail", "--priority", "urgent", env=env).returncode == 2


def test_history_rejects_a_bad_since_and_says_when_influxdb_is_down(env):
    assert run("alerts", "history", "--patient", "P1", "--since", "yesterday", env=env).returncode == 2
    down = {**env, "WARDWATCH_INFLUX_URL": f"http://127.0.0.1:{dead_port()}"}
    r = run("alerts", "history", "--patient", "P1", env=down)
    assert r.returncode == 1 and "cannot read the audit trail from InfluxDB" in r.stderr
