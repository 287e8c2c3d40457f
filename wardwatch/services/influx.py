"""InfluxDB 1.8.10 with the v2 HTTP API and Flux, built once from the Go module proxy.

``go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10`` gives a real ``influxd``
(pure Go; its Flux v0.65 needs no Rust). It runs with ``flux-enabled = true``; clients use the
v2 API with org ``-`` and bucket ``<db>/<rp>``, and the database is created on start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from wardwatch.services.private_files import role_secrets
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


#: Users of a secure local InfluxDB: the sink writes, readers (web station, Grafana, CLI) read.
ROLES = ("admin", "writer", "reader")


def secrets_dir(s: Settings) -> Path:
    return _dir(s) / "secrets"


def is_secure(s: Settings) -> bool:
    """Whether this run folder's InfluxDB was set up with ``--secure`` (auth on)."""
    return (secrets_dir(s) / "admin.token").exists()


def role_settings(s: Settings, role: str) -> Settings:
    """``s`` with the token of ``role`` (``writer`` for the sink, ``reader`` for readers)."""
    token = secrets_dir(s) / f"{role}.token"
    return s.model_copy(update={"influx_token_file": token, "influx_read_token_file": token})


def _make_tokens(s: Settings) -> dict[str, str]:
    """``user:password`` tokens (InfluxDB 1.8's v2 API takes ``Token user:password``), 0600."""
    return role_secrets(secrets_dir(s), ROLES, ".token", prefix_role=True)


def _query(s: Settings, q: str, token: str = "", db: str = "", timeout: float = 10.0) -> dict:
    """One InfluxQL statement on ``/query`` (in database ``db``, if given); raises for an HTTP or
    a statement error."""
    data = urllib.parse.urlencode({"q": q} | ({"db": db} if db else {})).encode()
    req = urllib.request.Request(f"{s.influx_url}/query", data=data, method="POST")
    if token:
        req.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = json.loads(r.read() or b"{}")
    errors = [res["error"] for res in body.get("results", []) if "error" in res]
    if errors:
        raise RuntimeError(f"InfluxDB refused {' '.join(q.split()[:2])}: {errors[0]}")
    return body


def _create_users(s: Settings) -> None:
    """Admin first (1.x lets the first admin be created without credentials), then a writer
    with WRITE and a reader with READ on the database only (least privilege). Idempotent."""
    tokens = _make_tokens(s)
    pw = {role: tok.split(":", 1)[1] for role, tok in tokens.items()}
    try:
        listed = _query(s, "SHOW USERS", tokens["admin"])
    except urllib.error.HTTPError:  # 401: no admin yet
        _query(s, f"CREATE USER admin WITH PASSWORD '{pw['admin']}' WITH ALL PRIVILEGES")
        listed = _query(s, "SHOW USERS", tokens["admin"])
    series = listed["results"][0].get("series", [{}])[0]
    existing = {row[0] for row in series.get("values", [])}
    db = s.influx_database
    create_database(s)  # the grants name it
    for role, right in (("writer", "WRITE"), ("reader", "READ")):
        if role not in existing:
            _query(s, f"CREATE USER {role} WITH PASSWORD '{pw[role]}'", tokens["admin"])
        _query(s, f'GRANT {right} ON "{db}" TO {role}', tokens["admin"])


def _write_config(s: Settings, secure: bool = False) -> Path:
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
  auth-enabled = {"true" if secure else "false"}
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
    _query(s, q, (role_settings(s, "admin") if is_secure(s) else s).influx_token_value())


def drop_patients(s: Settings, id_prefix: str) -> None:
    """Drop every series of the patients whose id starts with ``id_prefix`` (a load test's own
    simulated beds, which are nobody's record) from the database behind the bucket."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]+", id_prefix):
        raise ValueError(f"not a patient id prefix: {id_prefix!r}")
    q = f'DROP SERIES WHERE "patient" =~ /^{id_prefix}/'
    token = (role_settings(s, "admin") if is_secure(s) else s).influx_token_value()
    _query(s, q, token, db=s.influx_bucket.partition("/")[0], timeout=120.0)


def count_patient_points(s: Settings, id_prefix: str, hours: int = 24) -> int:
    """Points of any measurement, in the last ``hours``, of the patients whose id starts with
    ``id_prefix`` (what :func:`drop_patients` leaves)."""
    import re

    from wardwatch.influx_read import flux_rows

    if not re.fullmatch(r"[A-Za-z0-9_-]+", id_prefix):
        raise ValueError(f"not a patient id prefix: {id_prefix!r}")
    flux = (
        f'from(bucket: "{s.influx_bucket}") |> range(start: -{int(hours)}h)'
        f" |> filter(fn: (r) => r.patient =~ /^{id_prefix}/) |> count()"
    )
    return sum(int(row["_value"]) for row in flux_rows(flux, s))


def up(s: Settings, timeout: float = 60.0, secure: bool = False) -> str:
    """Start the local InfluxDB (``secure``: auth on, an admin, a writer and a reader user whose
    tokens are written 0600 under ``<run dir>/influxdb/secrets``; a run folder set up one way
    stays that way)."""
    d = _dir(s)
    secure = secure or is_secure(s)
    if running_pid(d / "pid", "influxd") and healthy(s):
        create_database(s)
        return "already running"
    if healthy(s):
        create_database(s)
        return "external server answering"
    exe = fetch(s)
    conf = _write_config(s, secure)
    start_detached([str(exe), "-config", str(conf)], d, d / "influxd.log", d / "pid")
    wait_until(lambda: healthy(s), timeout, "InfluxDB")
    if secure:
        _create_users(s)  # the admin first: the database needs it
    else:
        create_database(s)
    return "started (auth on)" if secure else "started"


def down(s: Settings) -> bool:
    return stop(_dir(s) / "pid", "influxd")


def pid(s: Settings) -> int | None:
    return running_pid(_dir(s) / "pid", "influxd")
