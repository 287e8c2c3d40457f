"""Start, find and stop the background processes that ``services up`` owns (pid files)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_detached(
    cmd: list[str], cwd: Path, log_file: Path, pid_file: Path, env: dict[str, str] | None = None
) -> int:
    """Start ``cmd`` in its own session, output to ``log_file``; record its pid."""
    log = open(log_file, "ab")  # noqa: SIM115 - the detached process owns it
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and its command line has ``marker``."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if marker in cmdline else None


def stop(pid_file: Path, marker: str, timeout: float = 30.0, kill: bool = False) -> bool:
    """Stop the process group recorded in ``pid_file`` (TERM, then KILL after ``timeout``;
    ``kill``: KILL at once, as a crash or the OOM killer would). True if one was running."""
    pid = running_pid(pid_file, marker)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(pid_file, marker):
        time.sleep(0.2)
    if running_pid(pid_file, marker):
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def wait_until(check, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not healthy after {timeout:.0f}s")
