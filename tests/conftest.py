"""Test session services: a real Kafka broker and a real InfluxDB server, started here.

The test session owns a stack of its own (a fresh run folder and free ports), so
tests never read a developer's demo data and a leftover from an earlier run cannot leak into
assertions. The binaries come from the same cache as ``wardwatch services up``.
Set WARDWATCH_TEST_EXTERNAL=1 to run against the services the environment points at instead.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import ClassVar

import pytest


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


if not os.environ.get("WARDWATCH_TEST_EXTERNAL"):
    # A stack of this session's own: own run folder, own free ports, so that two test sessions
    # on one machine (or a developer's demo) never share or restart each other's services.
    _run = Path(tempfile.mkdtemp(prefix="wardwatch-test-"))
    atexit.register(shutil.rmtree, _run, True)
    _kafka, _ctrl, _influx, _rpc = _free_ports(4)
    os.environ.update(
        {
            "WARDWATCH_RUN_DIR": str(_run),
            "WARDWATCH_KAFKA_PORT": str(_kafka),
            "WARDWATCH_KAFKA_CONTROLLER_PORT": str(_ctrl),
            "WARDWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{_kafka}",
            "WARDWATCH_INFLUX_PORT": str(_influx),
            "WARDWATCH_INFLUX_RPC_PORT": str(_rpc),
            "WARDWATCH_INFLUX_URL": f"http://127.0.0.1:{_influx}",
            "WARDWATCH_INFLUX_BUCKET": "wardwatch_test/autogen",
        }
    )
    # The token secret that front ends sign user tokens with and the alert consumer verifies
    # (acks need it): a file of the session's own, as a deployment would mount one.
    _secret = _run / "auth_secret"
    _secret.write_text(secrets.token_hex(32))
    _secret.chmod(0o600)
    os.environ["WARDWATCH_AUTH_SECRET_FILE"] = str(_secret)

REPO = Path(__file__).resolve().parents[1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a failed test here: a missing service must be started and missing
    data or artifacts must be provided, never silently passed over."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped tests are not allowed in WardWatch: {rep.longrepr}"
    if rep.failed:
        # A worker that crashed is the likeliest cause: put why it did in the report (pytest
        # shortens the WorkerProcess in an assertion's explanation to a line)
        for w in WorkerProcess.crashed():
            rep.sections.append((f"crashed worker {w.args} pid {w.proc.pid}", w.crash_report()))


WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))


@pytest.fixture(scope="session")
def free_ports():
    """``free_ports(n)``: n loopback ports nothing listens on (for a second server of a test)."""
    return _free_ports


@pytest.fixture(scope="session")
def services():
    """Kafka + InfluxDB for this test session (fresh data; stopped at the end)."""
    from wardwatch.services import stack
    from wardwatch.settings import get_settings

    s = get_settings()
    own = not os.environ.get("WARDWATCH_TEST_EXTERNAL")
    stack.up(s)
    yield s
    if own:
        stack.down(s)
        shutil.rmtree(s.run_dir, ignore_errors=True)


class WorkerProcess:
    """A ``wardwatch`` subprocess (stream worker, batch worker, ...) with its log file."""

    #: every worker this session started, for the report of a failed test
    started: ClassVar[list[WorkerProcess]] = []

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str]):
        WorkerProcess.started.append(self)
        self.reported = False  # its crash is in a failed test's report already
        self.args, self.log_path = args, log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 - open while the process runs
        self.proc = subprocess.Popen(
            [WARDWATCH, *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=REPO,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __repr__(self) -> str:
        # pytest prints this when ``assert worker.alive()`` fails: say how it ended and show its log
        code = self.proc.poll()
        state = "running" if code is None else f"exited {code}"
        tail = self.output()[-4000:] if self.log_path.exists() else ""
        return f"<WorkerProcess {self.args} pid {self.proc.pid} {state}; log {self.log_path}:\n{tail}>"

    @classmethod
    def crashed(cls) -> list[WorkerProcess]:
        """The workers that exited on their own with an error (not the ones a test stopped or
        killed: those exit -9, -15 or 0), whose report is not yet given."""
        out = []
        for w in cls.started:
            if w.proc.poll() not in (None, 0, -9, -15) and not w.reported:
                w.reported = True
                out.append(w)
        return out

    def crash_report(self) -> str:
        """The log's error lines and its last traceback: why the worker ended."""
        text = self.output() if self.log_path.exists() else ""
        errors = [ln for ln in text.splitlines() if "level=error" in ln or "level=critical" in ln]
        last_tb = text.rfind("Traceback (most recent call last)")
        tb = text[last_tb:][-6000:] if last_tb >= 0 else text[-3000:]
        return f"exit {self.proc.returncode}; log {self.log_path}\n" + "\n".join(errors[-20:]) + "\n" + tb

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.args} exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            time.sleep(0.5)
        raise TimeoutError(f"{self.args}: no {text!r} after {timeout}s:\n{self.output()[-3000:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def start_worker(services, tmp_path_factory):
    """Factory: ``start_worker(args, env=None, ready="...")`` -> a running WorkerProcess."""
    started: list[WorkerProcess] = []
    logs = tmp_path_factory.mktemp("workers")

    def start(
        args: list[str], env: dict[str, str] | None = None, ready: str | None = None, timeout: float = 180.0
    ) -> WorkerProcess:
        w = WorkerProcess(args, logs / f"{args[0]}-{len(started)}.log", env or {})
        started.append(w)
        if ready:
            w.wait_for(ready, timeout)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(scope="session")
def stream_app_id() -> str:
    return f"wardwatch-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def stream_worker(start_worker, stream_app_id):
    """The Faust stream worker (all agents) for the session, ready to consume."""
    return start_worker(["worker"], env={"WARDWATCH_APP_ID": stream_app_id}, ready="Worker ready")


class MLLPReceiver:
    """A real MLLP receiver (python-hl7's asyncio server) on a free port, in a thread of its own.

    ``answers`` is the script of what it does with each message in turn: ``"AA"``, ``"AE"``,
    ``"AR"`` answer with that ACK; ``"drop"`` closes the connection without an answer. After the
    script it answers AA. ``received`` holds every message's text, in arrival order.
    """

    def __init__(self, answers: list[str] | None = None) -> None:
        import asyncio
        import threading

        self.answers = list(answers or [])
        self.received: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()

        async def handle(reader, writer):
            try:
                while True:
                    msg = await reader.readmessage()
                    self.received.append(str(msg))
                    what = self.answers.pop(0) if self.answers else "AA"
                    if what == "drop":
                        writer.close()
                        return
                    writer.writemessage(msg.create_ack(ack_code=what))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        async def main():
            from hl7.mllp import start_hl7_server

            self.server = await start_hl7_server(handle, "127.0.0.1", 0, encoding="utf-8")
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(main())
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def close(self) -> None:
        import asyncio

        async def shutdown():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def mllp_receiver():
    """Factory: ``mllp_receiver(answers)`` -> a running :class:`MLLPReceiver` (closed after)."""
    made: list[MLLPReceiver] = []

    def make(answers: list[str] | None = None) -> MLLPReceiver:
        made.append(MLLPReceiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()
