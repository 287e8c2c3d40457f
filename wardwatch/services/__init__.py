"""Local Kafka and InfluxDB on loopback, started by the project itself (no Docker engine)."""
