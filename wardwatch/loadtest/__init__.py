"""``wardwatch bench load``: the load test (orchestration :mod:`.run`, samplers :mod:`.measure`,
the offline expected outputs :mod:`.expected`). Top layer, beside :mod:`wardwatch.demo`: it starts
services and workers and reads what every layer produces."""
