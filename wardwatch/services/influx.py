"""InfluxDB 1.8.10 with the v2 HTTP API and Flux, built once from the Go module proxy.

``go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10`` gives a real ``influxd``
(pure Go; its Flux v0.65 needs no Rust). It runs with ``flux-enabled = true``; clients use the
v2 API with org ``-`` and bucket ``<db>/<rp>``, and the database is created on start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from wardwatch.services.process import running_pid, start_detached, stop, wait_until
from wardwatch.settings import Settings

INFLUX_VERSION = "1.8.10"
MODULE = "github.com/influxdata/influxdb/cmd/influxd"


def binary(s: Settings) -> Path:
    return s.cache_dir / f"influxdb-{INFLUX_VERSION}" / "influxd"


def fetch(s: Settings) -> Path:
    """Build ``influxd`` once into the cache (about 2 minutes on 2 cores); then reuse it."""
    exe = binary(s)
    if exe.exists():
        return exe
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise RuntimeError("building influxd needs Go on PATH")
    exe.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(exe.parent), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    subprocess.run([go, "install", f"{MODULE}@v{INFLUX_VERSION}"], check=True, env=env)
    return exe


def _dir(s: Settings) -> Path:
    return s.run_dir / "influxdb"


def _write_config(s: Settings) -> Path:
    d = _dir(s)
    d.mkdir(parents=True, exist_ok=True)
    conf = d / "influxdb.conf"
    conf.write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{s.influx_rpc_port}"
[meta]
  dir = "{d / "meta"}"
[data]
  dir = "{d / "data"}"
  wal-dir = "{d / "wal"}"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{s.influx_port}"
  flux-enabled = true
  auth-enabled = false
  log-enabled = false
[monitor]
  store-enabled = false
""")
    return conf


def healthy(s: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"{s.influx_url}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def create_database(s: Settings) -> None:
    """Create the database behind the ``db/rp`` bucket (1.x servers; idempotent) and set its
    retention policy to ``influx_retention_d`` days (0: keep forever)."""
    db, _, rp = s.influx_bucket.partition("/")
    keep = f"{s.influx_retention_d}d" if s.influx_retention_d else "INF"
    q = f'CREATE DATABASE "{db}"; ALTER RETENTION POLICY "{rp or "autogen"}" ON "{db}" DURATION {keep}'
    data = urllib.parse.urlencode({"q": q}).encode()
    req = urllib.request.Request(f"{s.influx_url}/query", data=data, method="POST")
    token = s.influx_token_value()
    if token:
        req.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def up(s: Settings, timeout: float = 60.0) -> str:
    d = _dir(s)
    if running_pid(d / "pid", "influxd") and healthy(s):
        create_database(s)
        return "already running"
    if healthy(s):
        create_database(s)
        return "external server answering"
    exe = fetch(s)
    conf = _write_config(s)
    start_detached([str(exe), "-config", str(conf)], d, d / "influxd.log", d / "pid")
    wait_until(lambda: healthy(s), timeout, "InfluxDB")
    create_database(s)
    return "started"


def down(s: Settings) -> bool:
    return stop(_dir(s) / "pid", "influxd")


def pid(s: Settings) -> int | None:
    return running_pid(_dir(s) / "pid", "influxd")
