"""The webhook subscriber's parts that need no Kafka: options, filters, one POST against a real
local HTTP server, and the exit status when Kafka cannot be reached."""

import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wardwatch.subscribers.signing import verify_headers
from wardwatch.subscribers.webhook import (
    EXIT_KAFKA_UNREACHABLE,
    build_config,
    default_group,
    post_once,
    split_values,
    wants,
)

SECRET = b"k" * 40


@pytest.fixture
def secret_file(tmp_path):
    p = tmp_path / "secret"
    p.write_bytes(SECRET + b"\n")
    return str(p)


@pytest.fixture
def server():
    """A real HTTP server whose answer per path is set by the test; it records every request."""
    seen: list[tuple[str, dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, dict(self.headers), body))
            if self.path == "/slow":
                time.sleep(1.0)
            status = {"/ok": 204, "/fail": 503, "/refuse": 422, "/moved": 302, "/slow": 200}[self.path]
            self.send_response(status)
            if status == 503:
                self.send_header("Retry-After", "3")
            if status == 302:
                self.send_header("Location", "/ok")
            payload = b"no such route" if status == 422 else b""
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_post_once_outcomes(server):
    base, seen = server
    body = b'{"event_id":"e1"}'
    assert post_once(base + "/ok", body, {"Content-Type": "application/json"}, 5).status == 204
    fail = post_once(base + "/fail", body, {}, 5)
    assert (fail.status, fail.verdict, fail.retry_after_s) == (503, "retry", 3.0)
    refuse = post_once(base + "/refuse", body, {}, 5)
    assert (refuse.status, refuse.verdict, refuse.detail) == (422, "refused", "no such route")
    moved = post_once(base + "/moved", body, {}, 5)
    assert (moved.status, moved.verdict) == (302, "retry")
    assert [p for p, _, _ in seen] == ["/ok", "/fail", "/refuse", "/moved"]  # the redirect not followed
    slow = post_once(base + "/slow", body, {}, 0.3)
    assert (slow.status, slow.error, slow.verdict) == (None, "timeout", "retry")
    assert all(b == body for _, _, b in seen)


def test_post_once_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = post_once(f"http://127.0.0.1:{port}/", b"{}", {}, 2)
    assert (a.status, a.error, a.verdict) == (None, "connection", "retry")


def test_wants_filters_priority_and_bed():
    ev = {"priority": "medium", "bed": "12"}
    assert wants(ev, frozenset(), frozenset())
    assert wants(ev, frozenset({"high", "medium"}), frozenset({"12", "13"}))
    assert not wants(ev, frozenset({"high"}), frozenset())
    assert not wants(ev, frozenset(), frozenset({"1"}))
    assert not wants({}, frozenset({"high"}), frozenset())


def test_build_config(secret_file):
    cfg = build_config("https://hooks.example/ward?token=abc", secret_file, ["high,medium"], ["3", "4,5"])
    assert cfg.secret == SECRET
    assert cfg.priorities == {"high", "medium"} and cfg.beds == {"3", "4", "5"}
    assert cfg.group_id == default_group("https://hooks.example/ward?token=abc")
    assert cfg.group_id == default_group("https://hooks.example/ward?token=abc")  # stable
    assert cfg.group_id != default_group("https://other.example/")
    assert "token" not in cfg.host and "k" * 40 not in repr(cfg)
    assert build_config("http://h/", secret_file, group="mine").group_id == "mine"
    assert split_values(None) == frozenset()


@pytest.mark.parametrize(
    "url, priority, message",
    [
        ("ftp://h/", None, "http:// or https://"),
        ("hooks.example", None, "http:// or https://"),
        ("http://h/", ["urgent"], "unknown priority"),
    ],
)
def test_build_config_refuses_bad_options(secret_file, url, priority, message):
    with pytest.raises(ValueError, match=message):
        build_config(url, secret_file, priority)


def test_secret_file_must_exist_and_be_long_enough(tmp_path):
    short = tmp_path / "short"
    short.write_text("tooshort")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        build_config("http://h/", str(short))
    with pytest.raises(ValueError, match="cannot read"):
        build_config("http://h/", str(tmp_path / "missing"))


def test_signed_post_verifies_at_the_receiver(server, secret_file):
    from wardwatch.subscribers.signing import signed_headers

    base, seen = server
    body = b'{"event_id":"e2"}'
    post_once(base + "/ok", body, signed_headers(SECRET, body, time.time(), "e2"), 5)
    _, headers, got = seen[-1]
    assert verify_headers(SECRET, got, headers, now=time.time()) > 0


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-m", "wardwatch.cli", "alerts", "webhook", *args],
        env={**os.environ, "PYTHONPATH": str(root), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )


def test_cli_exits_with_a_clear_error_when_kafka_cannot_be_reached(secret_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _run_cli(
        ["--url", "http://127.0.0.1:9/", "--secret-file", secret_file, "--connect-timeout", "1"],
        {"WARDWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"},
    )
    assert r.returncode == EXIT_KAFKA_UNREACHABLE, r.stderr
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_refuses_bad_options_with_exit_2(tmp_path):
    short = tmp_path / "s"
    short.write_text("short")
    r = _run_cli(["--url", "http://h/", "--secret-file", str(short)], {})
    assert r.returncode == 2 and "at least 32 bytes" in r.stderr and "Traceback" not in r.stderr
