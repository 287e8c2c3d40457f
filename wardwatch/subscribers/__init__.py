"""Alert subscribers outside the stream worker: each reads ``alerts`` in a consumer group of its
own, so a slow or failing one never holds up the worker or another subscriber.

- :mod:`.signing`: the webhook signature scheme (HMAC-SHA256 over ``"<timestamp>.<body>"``) and
  the ``verify`` function a receiver calls; pure.
- :mod:`.retry`: which HTTP outcomes are delivered / retried / refused, and the backoff; pure.
- :mod:`.webhook`: ``wardwatch alerts webhook``, the Kafka-to-HTTP delivery loop.
"""
