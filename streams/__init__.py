"""The Faust app: topics, records, agents, tables, sinks, alerting."""
