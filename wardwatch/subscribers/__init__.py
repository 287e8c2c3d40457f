"""Alert subscribers outside the stream worker: each reads ``alerts`` in a consumer group of its
own, so a slow or failing one never holds up the worker or another subscriber.

- :mod:`.signing`: the webhook signature scheme (HMAC-SHA256 over ``"<timestamp>.<body>"``) and
  the ``verify`` function a receiver calls; pure.
- :mod:`.retry`: which HTTP outcomes are delivered / retried / refused, and the backoff; pure.
- :mod:`.delivery`: the delivery loop (filters, attempts, backoff, dead letters, commit after
  delivery), whatever the transport; ``wardwatch alerts hl7`` plugs an MLLP transport into it.
- :mod:`.webhook`: ``wardwatch alerts webhook``, the HTTP transport and its configuration.
"""
