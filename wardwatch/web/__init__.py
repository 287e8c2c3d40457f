"""The web central station (``wardwatch web``): login, the live ward over server-sent events,
alarm acknowledgement through ``alerts.ack``, ECG strips and trends. See :mod:`.app`."""
