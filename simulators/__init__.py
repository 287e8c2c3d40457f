"""Bedside-device feeds: synthetic patients, record replay, load tests."""
