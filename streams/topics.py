"""Faust topic objects for the names in :mod:`wardwatch.topics`.

Every topic an agent consumes is read as raw bytes: the agent decodes and validates, so a
malformed record goes to ``deadletter`` with its original bytes and its reason. (Faust's own JSON
codec would acknowledge a message it cannot decode and leave the agent a gap.) The topics
between agents carry JSON dicts, sent through the ``*_topic`` objects and read through the
``*_in`` ones. Keys are raw bytes: the patient id (or job id) in UTF-8.
"""

from __future__ import annotations

from streams.app import app
from wardwatch import topics as names

vitals_topic = app.topic(names.VITALS, value_serializer="raw")
ecg_topic = app.topic(names.ECG, value_serializer="raw")
labs_topic = app.topic(names.LABS, value_serializer="raw")
admissions_topic = app.topic(names.ADMISSIONS, value_serializer="raw")
conditions_topic = app.topic(names.CONDITIONS, value_serializer="json")
conditions_in = app.topic(names.CONDITIONS, value_serializer="raw")
alerts_topic = app.topic(names.ALERTS, value_serializer="json")
alerts_ack_topic = app.topic(names.ALERTS_ACK, value_serializer="raw")
deadletter_topic = app.topic(names.DEADLETTER, value_serializer="json")
points_topic = app.topic(names.POINTS, value_serializer="json")
points_in = app.topic(names.POINTS, value_serializer="raw")
