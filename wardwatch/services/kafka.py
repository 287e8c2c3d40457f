"""Apache Kafka (single-node KRaft) from the official jars that Maven Central serves.

The jars are collected once into ``<cache>/kafka-<version>/libs`` by Maven
(``dependency:copy-dependencies`` over a two-dependency pom); storage is formatted with
``kafka.tools.StorageTool`` and the broker runs as ``java kafka.Kafka server.properties``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from wardwatch.kafka_io import client_config
from wardwatch.services.private_files import role_secrets
from wardwatch.services.process import port_open, running_pid, start_detached, stop, wait_until
from wardwatch.settings import Settings

KAFKA_VERSION = "3.9.1"
SLF4J_RELOAD4J = "1.7.36"
MARKER = "kafka.Kafka"

POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.wardwatch</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>{SLF4J_RELOAD4J}</version></dependency>
  </dependencies>
</project>
"""


def libs_dir(s: Settings) -> Path:
    return s.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def fetch(s: Settings) -> Path:
    """Collect the broker jars once; later calls return the cached folder at once."""
    libs = libs_dir(s)
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise RuntimeError(
            "Kafka needs Java 17 and Maven on PATH (apt-get install openjdk-17-jre-headless maven)"
        )
    build = libs.parent / "build"
    build.mkdir(parents=True, exist_ok=True)
    (build / "pom.xml").write_text(POM)
    tmp = libs.parent / "libs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        cwd=build,
        check=True,
    )
    tmp.rename(libs)
    return libs


def _dir(s: Settings) -> Path:
    return s.run_dir / "kafka"


#: SCRAM users of a secure local broker, one per role (least privilege, see :func:`role_acls`).
ROLES = ("admin", "worker", "gateway", "web")


def secrets_dir(s: Settings) -> Path:
    return _dir(s) / "secrets"


def is_secure(s: Settings) -> bool:
    """Whether the local broker of this run folder was set up with ``--secure``."""
    return (secrets_dir(s) / "admin.password").exists()


def admin_settings(s: Settings) -> Settings:
    """The settings that administer this run folder's broker: the admin role if it is secure."""
    return role_settings(s, "admin") if is_secure(s) else s


def role_settings(s: Settings, role: str) -> Settings:
    """``s`` with the SASL_SSL credentials of ``role`` on the local secure broker."""
    return s.model_copy(
        update={
            "kafka_security_protocol": "SASL_SSL",
            "kafka_username": role,
            "kafka_password_file": secrets_dir(s) / f"{role}.password",
            "kafka_ssl_cafile": _dir(s) / "tls" / "ca.pem",
        }
    )


def _make_secrets(s: Settings) -> dict[str, str]:
    """A random password per role, written 0600 once (kept across restarts)."""
    return role_secrets(secrets_dir(s), ROLES, ".password")


def _listener_lines(s: Settings, secure: bool) -> list[str]:
    if not secure:
        return [
            f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]
    from wardwatch.services.tls import make_ca_and_broker_cert

    d = _dir(s)
    make_ca_and_broker_cert(d / "tls")
    return secure_listener_lines(
        f"127.0.0.1:{s.kafka_port}",
        f"127.0.0.1:{s.kafka_port}",
        s.kafka_controller_port,
        d / "tls",
        _make_secrets(s)["admin"],
    )


def secure_listener_lines(
    listen: str, advertise: str, controller_port: int, tls: Path, admin_pw: str
) -> list[str]:
    """The broker's SASL_SSL lines: clients over TLS + SCRAM-SHA-512 only, on ``listen``
    (``host:port``; an empty host is every interface), advertised as ``advertise``.

    The KRaft controller listener stays plaintext but bound to loopback, where no other host can
    reach it (a single combined node: SCRAM cannot guard it, its credentials live in the
    metadata the controller serves); the broker reaches it as ANONYMOUS, a super user."""
    login = "org.apache.kafka.common.security.scram.ScramLoginModule"
    jaas = f'{login} required username="admin" password="{admin_pw}";'
    return [
        f"listeners=SASL_SSL://{listen},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=SASL_SSL://{advertise}",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=SASL_SSL",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={tls / 'broker.pem'}",
        "ssl.truststore.type=PEM",  # the broker checks its own listener (inter-broker) too
        f"ssl.truststore.location={tls / 'ca.pem'}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users=User:admin;User:ANONYMOUS",
        "allow.everyone.if.no.acl.found=false",
    ]


SMALL_MACHINE_CORES = 4  #: at most this many CPUs: the local broker is cut down (local_threads, _java)


def small_machine(cores: int | None) -> bool:
    """Whether the local broker shares a machine of at most :data:`SMALL_MACHINE_CORES` CPUs
    (unknown: no)."""
    return cores is not None and cores <= SMALL_MACHINE_CORES


def local_threads(cores: int | None) -> dict[str, int]:
    """Broker thread counts for the local broker on a machine of ``cores`` CPUs (None: Kafka's
    own defaults, 3 network, 8 I/O and 10 background threads, sized for a server of its own).

    On the project's 2-core machines the broker shares the cores with the workers, InfluxDB and
    the simulator; fewer threads (and the serial collector, :func:`_java`) cut its CPU by ~20 %
    at 2,000 beds (``bench load``, alternating runs, stop 36), which the workers then had.

    >>> local_threads(2), local_threads(16)
    ({'num.network.threads': 2, 'num.io.threads': 2, 'background.threads': 2}, {})
    """
    if cores is None or not small_machine(cores):
        return {}
    return {"num.network.threads": 2, "num.io.threads": max(2, cores), "background.threads": 2}


def server_properties(
    listener_lines: list[str],
    controller_port: int,
    data_dir: Path,
    partitions: int,
    threads: dict[str, int] | None = None,
) -> str:
    """A single combined KRaft node's ``server.properties`` (``threads``: :func:`local_threads`)."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            *listener_lines,
            "controller.listener.names=CONTROLLER",
            f"log.dirs={data_dir}",
            f"num.partitions={partitions}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=8",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "log.retention.hours=168",
            *(f"{k}={v}" for k, v in (threads or {}).items()),
            "",
        ]
    )


def _write_config(s: Settings, secure: bool = False) -> Path:
    d = _dir(s)
    (d / "data").mkdir(parents=True, exist_ok=True)
    props = d / "server.properties"
    props.touch(mode=0o600)  # holds the broker's own SCRAM password when secure
    props.write_text(
        server_properties(
            _listener_lines(s, secure),
            s.kafka_controller_port,
            d / "data",
            s.partitions,
            local_threads(os.cpu_count()),
        )
    )
    (d / "log4j.properties").write_text(
        "log4j.rootLogger=INFO, F\n"
        "log4j.appender.F=org.apache.log4j.RollingFileAppender\n"
        f"log4j.appender.F.File={d / 'kafka.log'}\n"
        "log4j.appender.F.MaxFileSize=20MB\nlog4j.appender.F.MaxBackupIndex=2\n"
        "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.F.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\nlog4j.logger.state.change.logger=WARN\n"
    )
    return props


#: where the compose file's broker finds its files (the ``kafka-config`` volume) and its data
COMPOSE_CONFIG, COMPOSE_DATA = Path("/kafka-config"), Path("/var/lib/kafka/data")


def compose_broker_files(
    out: Path,
    ca_out: Path,
    host: str,
    passwords: dict[str, str],
    partitions: int = 12,
    owner: int | None = None,
) -> None:
    """The secure broker of ``docker-compose.yml``: into ``out`` (mounted at
    :data:`COMPOSE_CONFIG` in the broker alone) a CA and a certificate for ``host``, the
    SASL_SSL ``server.properties`` of the local ``--secure`` broker (the same lines) listening
    on every interface as ``host:9092``, and ``start.sh`` (format the storage once with a SCRAM
    user per role, then run the broker); into ``ca_out`` (mounted read-only in the clients) the
    CA certificate alone. ``passwords``: one per role of :data:`ROLES`."""
    from wardwatch.services.private_files import write_private
    from wardwatch.services.tls import make_ca_and_broker_cert

    bad = [r for r in ROLES if not re.fullmatch(r"[A-Za-z0-9_.~-]{16,}", passwords.get(r) or "")]
    if bad:  # (quoted in a shell line and in the JAAS line: no quotes, spaces or "$")
        raise ValueError(f"Kafka role(s) {bad}: a password of 16+ characters from [A-Za-z0-9_.~-] is needed")
    make_ca_and_broker_cert(out / "tls", hosts=(host, "localhost"))
    lines = secure_listener_lines(":9092", f"{host}:9092", 9093, COMPOSE_CONFIG / "tls", passwords["admin"])
    write_private(
        out / "server.properties", server_properties(lines, 9093, COMPOSE_DATA, partitions).encode()
    )
    scram = " ".join(f"'--add-scram=SCRAM-SHA-512=[name={r},password={passwords[r]}]'" for r in ROLES)
    script = (
        "#!/bin/sh\nset -e\n"
        f"props={COMPOSE_CONFIG / 'server.properties'}\n"
        f"if [ ! -f {COMPOSE_DATA / 'meta.properties'} ]; then\n"
        "  bin=/opt/kafka/bin\n"
        f'  "$bin/kafka-storage.sh" format --cluster-id="$("$bin/kafka-storage.sh" random-uuid)" '
        f"--config=$props {scram}\n"
        "fi\n"
        'exec /opt/kafka/bin/kafka-server-start.sh "$props"\n'
    )
    write_private(out / "start.sh", script.encode())
    (out / "start.sh").chmod(0o700)
    ca_out.mkdir(parents=True, exist_ok=True)
    (ca_out / "ca.pem").write_bytes((out / "tls" / "ca.pem").read_bytes())
    (ca_out / "ca.pem").chmod(0o644)
    if owner is not None:  # the broker image's user (apache/kafka: appuser, uid 1000)
        for f in [out, *out.rglob("*")]:
            os.chown(f, owner, owner)


def _java(s: Settings, main: str, *args: str) -> list[str]:
    d = _dir(s)
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
        # the serial collector on a small machine: G1's concurrent threads compete with the
        # workers for the cores (see local_threads); young collections of this heap take ms
        *(["-XX:+UseSerialGC"] if small_machine(os.cpu_count()) else []),
        "-cp",
        f"{libs_dir(s)}/*",
        f"-Dlog4j.configuration=file:{d / 'log4j.properties'}",
        main,
        *args,
    ]


def healthy(s: Settings) -> bool:
    host, _, port = s.bootstrap_servers[0].rpartition(":")
    if not port_open(host or "127.0.0.1", int(port)):
        return False
    try:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(**client_config(s), request_timeout_ms=5000)
        admin.list_topics()
        admin.close()
        return True
    except Exception:  # noqa: BLE001 - a health probe: any failure means not ready
        return False


def up(s: Settings, timeout: float = 90.0, secure: bool = False) -> str:
    """Start the local broker (``secure``: SASL_SSL with a user per role and ACLs; a run folder
    formatted one way stays that way)."""
    d = _dir(s)
    secure = secure or is_secure(s)
    probe = role_settings(s, "admin") if secure else s  # (is_secure only once formatted)
    if healthy(probe):
        if secure:
            grant_role_acls(probe)
        return "already running" if running_pid(d / "pid", MARKER) else "external broker answering"
    fetch(s)
    props = _write_config(s, secure)
    if not (d / "data" / "meta.properties").exists():
        # A cluster id is a base64 UUID; "--cluster-id=" keeps one starting with "-" an argument.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        scram = (
            [f"--add-scram=SCRAM-SHA-512=[name={r},password={pw}]" for r, pw in _make_secrets(s).items()]
            if secure
            else []
        )
        fmt = subprocess.run(
            _java(
                s,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",
                f"--config={props}",
                *scram,
            ),
            capture_output=True,
            text=True,
        )
        if fmt.returncode != 0:
            raise RuntimeError(f"Kafka storage format failed: {fmt.stdout[-2000:]} {fmt.stderr[-2000:]}")
    start_detached(_java(s, MARKER, str(props)), d, d / "stdout.log", d / "pid")
    wait_until(lambda: healthy(probe), timeout, "Kafka")
    if secure:
        grant_role_acls(probe)
    return "started (SASL_SSL)" if secure else "started"


def role_acls() -> dict[str, list[tuple[str, str, str, str]]]:
    """Least privilege per role: ``(resource type, name, pattern, operation)`` grants.

    - gateway (bedside devices and their gateways): write the device topics, nothing else;
    - web (the central station): read what it shows, and it alone writes ``alerts.ack``;
    - worker (stream and batch workers): read and write every topic (Faust also creates its
      changelog topics), its consumer groups, and topic configs (retention);
    - admin: a super user (services, topic set-up).
    """
    from wardwatch import topics as t

    def topic_grants(*pairs: tuple[str, str]) -> list[tuple[str, str, str, str]]:
        """Each ``(topic, operation)``, plus DESCRIBE on the topic (its metadata)."""
        return [("TOPIC", n, "LITERAL", op) for n, op in pairs] + [
            ("TOPIC", n, "LITERAL", "DESCRIBE") for n, _ in pairs
        ]

    device = [(n, "WRITE") for n in (t.VITALS, t.ECG, t.LABS, t.ADMISSIONS)]
    station = [*((n, "READ") for n in (t.ALERTS, t.POINTS, t.ECG, t.VITALS)), (t.ALERTS_ACK, "WRITE")]
    return {
        "gateway": topic_grants(*device),
        "web": [*topic_grants(*station), ("GROUP", "wardwatch-web", "PREFIXED", "READ")],
        "worker": [("TOPIC", "*", "LITERAL", "ALL"), ("GROUP", "*", "LITERAL", "ALL")]
        + [("CLUSTER", "kafka-cluster", "LITERAL", op) for op in ("CREATE", "DESCRIBE", "DESCRIBE_CONFIGS")]
        + [("TRANSACTIONAL_ID", "*", "LITERAL", "ALL")],
    }


def grant_role_acls(admin_settings: Settings) -> None:
    """Create :func:`role_acls` on the broker (idempotent: Kafka keeps one copy of each ACL)."""
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePattern,
        ResourceType,
    )

    acls = [
        ACL(
            f"User:{role}",
            "*",
            ACLOperation[op],
            ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType[rtype], name, ACLResourcePatternType[pattern]),
        )
        for role, grants in role_acls().items()
        for rtype, name, pattern, op in grants
    ]
    admin = KafkaAdminClient(**client_config(admin_settings), client_id="wardwatch-admin")
    try:
        result = admin.create_acls(acls)
        if result.get("failed"):
            raise RuntimeError(f"Kafka refused ACLs: {[(str(a), e) for a, e in result['failed'][:3]]}")
    finally:
        admin.close()


def down(s: Settings, kill: bool = False) -> bool:
    """Stop the local broker (``kill``: SIGKILL, no controlled shutdown; for fault tests)."""
    return stop(_dir(s) / "pid", MARKER, kill=kill)


def pid(s: Settings) -> int | None:
    return running_pid(_dir(s) / "pid", MARKER)
