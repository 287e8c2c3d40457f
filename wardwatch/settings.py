"""One settings object for every part of WardWatch, read from ``WARDWATCH_*`` variables.

The defaults point at the embedded local services that ``wardwatch services up`` starts on
loopback. Pointing at a real cluster is configuration only::

    WARDWATCH_KAFKA_BOOTSTRAP=kafka-1:9092,kafka-2:9092
    WARDWATCH_INFLUX_URL=https://influx.example:8086
    WARDWATCH_INFLUX_TOKEN_FILE=/run/secrets/influx_token   # or WARDWATCH_INFLUX_TOKEN
    WARDWATCH_INFLUX_ORG=ward   WARDWATCH_INFLUX_BUCKET=wardwatch

Secrets are never defaults in code: the token comes from the environment or from a file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDWATCH_", extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    partitions: int = Field(4, ge=1, description="partitions of every keyed topic")
    replication: int = Field(1, ge=1, description="replication factor of created topics")
    app_id: str = "wardwatch"
    # What a `wardwatch worker` process runs (:func:`role_parts`): "all" agents (the default),
    # the "stream" agents (everything but the InfluxDB sink), or parts of them, comma-separated:
    # "ward" (vitals, labs, admissions, alerts, patients), "ecg" (the ECG agent), "sink" (the
    # InfluxDB sink). The ECG agent or the sink alone runs in a consumer group of its own
    # ("<app_id>-ecg", "<app_id>-sink"), so that each gets a process (and a core) of its own.
    worker_role: str = "all"
    # How long the group waits for a silent worker before its partitions move to the others
    # (Kafka's session timeout; the heartbeat is a third of it). Shorter means a killed worker's
    # patients are picked up sooner; the broker accepts 6 s at least.
    session_timeout_s: float = Field(30.0, ge=6.0)
    # How long a worker's producer waits to fill a batch before sending (ms): a few ms turn
    # hundreds of small produce requests per second into a few large ones, which cut the
    # broker's CPU about 4x at 1,000 beds (bench load) for that much added latency.
    kafka_linger_ms: float = Field(5.0, ge=0.0, le=100.0)
    # Largest record batch a worker's producer builds per partition (Faust's default is 16 KiB).
    # An ECG state is ~45-60 KB, so at the default every state was a batch of its own, and
    # a vitals batch of a thousand 1.2 KB states made ~80 batches per partition; the broker
    # validates and appends each batch on its own. Under the broker's 1 MB message.max.bytes.
    kafka_batch_bytes: int = Field(512 * 1024, ge=16 * 1024, le=1_000_000)
    # Kafka security: PLAINTEXT (loopback development) or SASL_SSL with SCRAM-SHA-512 users
    # (``wardwatch services up --secure`` starts such a broker and writes each role's password
    # file). The password comes from a file (preferred) or the environment.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    kafka_password_file: Path | None = None
    kafka_ssl_cafile: Path | None = None  # the CA that signed the brokers' certificates

    # InfluxDB (v2 HTTP API; the embedded 1.8 server takes org "-" and bucket "db/rp")
    influx_url: str = "http://127.0.0.1:8086"
    influx_token: SecretStr = SecretStr("")
    influx_token_file: Path | None = None
    # Readers (web station, CLI, Grafana's datasource, load test) may use a read-only token;
    # unset, they use influx_token.
    influx_read_token: SecretStr = SecretStr("")
    influx_read_token_file: Path | None = None
    influx_org: str = "-"
    influx_bucket: str = "wardwatch/autogen"
    influx_batch_size: int = 2000
    influx_flush_s: float = 1.0

    # Local services and files
    cache_dir: Path = Path.home() / ".cache" / "wardwatch"
    run_dir: Path = Path.home() / ".local" / "state" / "wardwatch"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    influx_port: int = 8086
    influx_rpc_port: int = 8088
    artifacts_dir: Path | None = None  # where workers store PNG strips, thumbnails, reports

    log_level: str = "INFO"

    # Deterioration model the vitals agent runs: "vitals" (monitor only, the default), "labs"
    # (also lab values from ``labs`` and age/sex from ``admissions``), "full" (labs with their
    # timing), or the path of an artifact
    # (e.g. a site refit written by ``wardwatch calibrate deterioration``).
    deterioration_model: str = "vitals"

    # Retention (PHI minimisation): Kafka keeps stream topics retention_h hours and topics that
    # carry identified payloads as sent (jobs.*, deadletter) retention_phi_h hours; InfluxDB keeps
    # points influx_retention_d days (0: forever). Applied when topics/databases are ensured.
    retention_h: float = Field(168.0, gt=0)
    retention_phi_h: float = Field(48.0, gt=0)
    influx_retention_d: int = Field(90, ge=0)

    # Batch jobs sent by path (files over the inline limit): read only under these roots
    # (os.pathsep-separated; empty: path jobs are refused) and up to this size.
    batch_path_roots: str = ""
    batch_max_path_bytes: int = Field(512 * 1024 * 1024, gt=0)

    # Who may act on alarms (wardwatch.identity): the users file and the token secret that the
    # web station and CLI sign with and the alert consumer verifies. The secret comes from a file
    # (preferred) or the environment, never a default.
    users_file: Path | None = None  # default: users.json in run_dir
    auth_secret: SecretStr = SecretStr("")
    auth_secret_file: Path | None = None
    auth_token_ttl_s: float = Field(8 * 3600.0, gt=0, description="lifetime of a user token (a shift)")

    # Alarm escalation (models.alarms.lifecycle.EscalationPolicy): a high or medium alarm not
    # acknowledged within its deadline (wall clock, from its last notification) is re-notified;
    # a medium one is raised to high after this many missed deadlines (0: never). IEC 60601-1-8
    # defines the priorities, not these times: they are a site's alarm policy (see the policy's
    # docstring for where the defaults come from). The timer checks every ``alerts_tick_s``.
    escalate_high_s: float = Field(60.0, gt=0)
    escalate_medium_s: float = Field(300.0, gt=0)
    escalate_medium_to_high_after: int = Field(2, ge=0)
    alerts_tick_s: float = Field(1.0, gt=0, le=60)
    # A patient with no vitals reading and no ECG chunk for this long (the worker's wall clock) is
    # evicted as if discharged: open alarms resolved ("idle"), state dropped (0: never).
    patient_idle_evict_h: float = Field(24.0, ge=0)
    # The per-patient state changelogs' segment size (``segment.bytes``, set when a worker's
    # Faust creates them; streams/tables.py). Compaction never touches the active segment: with
    # Kafka's 1 GB default the ECG changelog (~1.7 MB/s at 500 ECG beds) kept ~20 minutes of
    # states uncompacted, ~4 GB on disk, which a new owner reads whole on a rebalance, then
    # cleaned it in bursts. Existing changelogs keep theirs (kafka-configs --alter to change).
    changelog_segment_mb: int = Field(64, gt=0)
    # How often a worker returns the memory its allocator has freed to the system
    # (``streams/memory.py``: glibc's malloc_trim), so that RSS falls again after a backlog.
    memory_trim_s: float = Field(60.0, gt=0)
    # glibc malloc arenas a worker may use (``streams/memory.py``; 0: glibc's default, 8 a core):
    # more arenas kept more high-water marks that a trim cannot return.
    memory_arenas: int = Field(2, ge=0, le=64)
    # The cyclic garbage collector's first threshold in a worker, whose start-up objects are then
    # frozen (0: Python's collector as it comes, threshold 700; ``streams/memory.py``).
    gc_gen0: int = Field(10_000, ge=0)
    # How long a worker told to stop (SIGTERM, SIGINT) may take before it exits anyway
    # (``streams/stop_deadline.py``; at least once: what it cut short is read again).
    stop_deadline_s: float = Field(120.0, gt=0)
    # Seconds between writes of each ECG state to its changelog (``streams/ecg/agents.py``; 0:
    # after every batch), in slices of patients written in turn every 0.5 s. A record stays
    # unacknowledged until its state is written, so a worker that dies handles it again from the
    # last write (its outputs go out again).
    ecg_checkpoint_s: float = Field(5.0, ge=0, le=60)
    # The same for the vitals agent's per-patient states (0: written after every batch).
    vitals_checkpoint_s: float = Field(5.0, ge=0, le=60)

    # The read-only training/test data laid beside the repository (``../shared/data``).
    shared_data: Path = REPO_ROOT.parent / "shared" / "data"
    mitdb_ds1: Path | None = None  # MIT-BIH DS1 records; default: mitdb-ds1 in shared_data

    @field_validator("*", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, v: object, info: ValidationInfo) -> object:
        """``VAR=`` (as compose's ``${VAR:-}`` gives) means not set, not the current directory:
        for every optional setting (default ``None``: the token, password, CA and users files...)."""
        unset_by_default = info.field_name is not None and cls.model_fields[info.field_name].default is None
        return None if unset_by_default and isinstance(v, str) and not v.strip() else v

    @field_validator("worker_role")
    @classmethod
    def _known_role(cls, v: str) -> str:
        role_parts(v)  # raises ValueError for an unknown part or a mix without a group
        return v

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",") if s.strip()]

    @property
    def sink_group(self) -> str:
        """The consumer group of ``worker_role=sink`` workers (the InfluxDB sink on its own)."""
        return f"{self.app_id}-sink"

    @property
    def ecg_group(self) -> str:
        """The consumer group of ``worker_role=ecg`` workers (the ECG agent on its own)."""
        return f"{self.app_id}-ecg"

    @property
    def worker_parts(self) -> frozenset[str]:
        """The parts of the pipeline this worker runs (:func:`role_parts` of ``worker_role``)."""
        return role_parts(self.worker_role)

    @property
    def worker_group(self) -> str:
        """This worker's Faust app id and consumer group: ``app_id`` for a worker with the ward's
        agents; ``<app_id>-ecg`` for the ECG agent alone, ``<app_id>-sink`` for the sink alone."""
        parts = self.worker_parts
        if "ward" in parts:
            return self.app_id
        return self.ecg_group if parts == {"ecg"} else self.sink_group

    @property
    def faust_broker(self) -> str:
        return ";".join(f"kafka://{s}" for s in self.bootstrap_servers)

    @property
    def influx_database(self) -> str:
        """Database part of ``db/rp`` (used to create it on the embedded 1.8 server)."""
        return self.influx_bucket.split("/", 1)[0]

    def influx_token_value(self) -> str:
        if self.influx_token_file is not None:
            return self.influx_token_file.read_text().strip()
        return self.influx_token.get_secret_value()

    def influx_read_token_value(self) -> str:
        if self.influx_read_token_file is not None:
            return self.influx_read_token_file.read_text().strip()
        return self.influx_read_token.get_secret_value() or self.influx_token_value()

    def kafka_password_value(self) -> str:
        if self.kafka_password_file is not None:
            return self.kafka_password_file.read_text().strip()
        return self.kafka_password.get_secret_value()

    @property
    def batch_roots(self) -> list[Path]:
        return [Path(p) for p in self.batch_path_roots.split(os.pathsep) if p.strip()]

    @property
    def users_path(self) -> Path:
        return self.users_file or (self.run_dir / "users.json")

    def auth_secret_value(self) -> bytes:
        """The token secret (raises ValueError when none of at least 32 bytes is configured)."""
        from wardwatch.identity import read_secret

        return read_secret(self.auth_secret.get_secret_value(), self.auth_secret_file)

    @property
    def artifacts_path(self) -> Path:
        return self.artifacts_dir or (self.run_dir / "artifacts")


#: The parts of the pipeline a worker can run, and the names that stand for several.
WORKER_PARTS = ("ward", "ecg", "sink")
ROLE_ALIASES = {"all": frozenset(WORKER_PARTS), "stream": frozenset({"ward", "ecg"})}


def role_parts(role: str) -> frozenset[str]:
    """The parts of a worker role: ``all``, ``stream`` or parts, comma-separated.

    A worker is one Faust app in one consumer group, so the ECG agent and the sink go together
    only with the ward (in ``app_id``'s group); each alone has a group of its own.

    >>> sorted(role_parts("stream")), sorted(role_parts("ward,sink")), sorted(role_parts("ecg"))
    (['ecg', 'ward'], ['sink', 'ward'], ['ecg'])
    >>> role_parts("ecg,sink")
    Traceback (most recent call last):
    ...
    ValueError: worker role 'ecg,sink': ecg and sink go together only with ward (run them as two workers)
    """
    parts: set[str] = set()
    for name in (p.strip() for p in role.split(",")):
        if name in ROLE_ALIASES:
            parts |= ROLE_ALIASES[name]
        elif name in WORKER_PARTS:
            parts.add(name)
        else:
            known = ", ".join([*ROLE_ALIASES, *WORKER_PARTS])
            raise ValueError(f"worker role {role!r}: unknown part {name!r} (one or more of {known})")
    if len(parts) > 1 and "ward" not in parts:
        raise ValueError(
            f"worker role {role!r}: ecg and sink go together only with ward (run them as two workers)"
        )
    return frozenset(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def shared_data(*parts: str) -> Path:
    """A path inside the shared data folder (``WARDWATCH_SHARED_DATA``, default ``../shared/data``)."""
    return get_settings().shared_data.joinpath(*parts)


def mitdb_ds1_dir() -> Path:
    """MIT-BIH DS1 records folder: ``WARDWATCH_MITDB_DS1``, else ``mitdb-ds1`` in the shared data."""
    return get_settings().mitdb_ds1 or shared_data("mitdb-ds1")
