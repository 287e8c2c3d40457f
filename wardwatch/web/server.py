"""Running the station with uvicorn: in the foreground (``wardwatch web``) or in a thread (the demo)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from wardwatch.settings import Settings
from wardwatch.web.app import create_app


def _server(settings: Settings, host: str, port: int, log_level: str) -> uvicorn.Server:
    app = create_app(settings)  # raises ValueError without a token secret
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # URLs carry patient ids; log lines must not
        log_config=None,  # keep WardWatch's key=value logging
        timeout_graceful_shutdown=3,
    )
    return uvicorn.Server(config)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info") -> None:
    """Run the station until interrupted."""
    _server(settings, host, port, log_level).run()


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class StationThread:
    """The station served from a background thread; ``stop()`` shuts it down."""

    def __init__(
        self, settings: Settings, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ):
        self.host = host
        self.port = port or free_port(host)
        self.server = _server(settings, host, self.port, log_level)
        self.thread = threading.Thread(target=self.server.run, name="wardwatch-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> StationThread:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web station did not start on {self.url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


__all__ = ["StationThread", "free_port", "port_free", "serve"]
