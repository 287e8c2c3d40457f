"""Apache Kafka (single-node KRaft) from the official jars that Maven Central serves.

The jars are collected once into ``<cache>/kafka-<version>/libs`` by Maven
(``dependency:copy-dependencies`` over a two-dependency pom); storage is formatted with
``kafka.tools.StorageTool`` and the broker runs as ``java kafka.Kafka server.properties``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

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


def _write_config(s: Settings) -> Path:
    d = _dir(s)
    (d / "data").mkdir(parents=True, exist_ok=True)
    props = d / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={d / 'data'}",
                f"num.partitions={s.partitions}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "log.retention.hours=168",
                "",
            ]
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


def _java(s: Settings, main: str, *args: str) -> list[str]:
    d = _dir(s)
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
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

        admin = KafkaAdminClient(bootstrap_servers=s.bootstrap_servers, request_timeout_ms=5000)
        admin.list_topics()
        admin.close()
        return True
    except Exception:  # noqa: BLE001 - a health probe: any failure means not ready
        return False


def up(s: Settings, timeout: float = 90.0) -> str:
    d = _dir(s)
    if running_pid(d / "pid", MARKER) and healthy(s):
        return "already running"
    if healthy(s):
        return "external broker answering"
    fetch(s)
    props = _write_config(s)
    if not (d / "data" / "meta.properties").exists():
        # A cluster id is a base64 UUID; "--cluster-id=" keeps one starting with "-" an argument.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        fmt = subprocess.run(
            _java(s, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", f"--config={props}"),
            capture_output=True,
            text=True,
        )
        if fmt.returncode != 0:
            raise RuntimeError(f"Kafka storage format failed: {fmt.stdout[-2000:]} {fmt.stderr[-2000:]}")
    start_detached(_java(s, MARKER, str(props)), d, d / "stdout.log", d / "pid")
    wait_until(lambda: healthy(s), timeout, "Kafka")
    return "started"


def down(s: Settings) -> bool:
    return stop(_dir(s) / "pid", MARKER)


def pid(s: Settings) -> int | None:
    return running_pid(_dir(s) / "pid", MARKER)
