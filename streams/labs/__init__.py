"""Laboratory results (the ``labs`` topic)."""
