"""Structured logging for services: one ``key=value`` line per event, no patient id in clear.

Patient identifiers are replaced by a short keyed hash (:func:`pid_ref`) so that log lines can be
correlated without revealing who the patient is. The key comes from ``WARDWATCH_LOG_SALT`` (or a
per-process random salt when unset, so references are stable within one process only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sys
from typing import Any

_SALT = os.environ.get("WARDWATCH_LOG_SALT", "").encode() or secrets.token_bytes(16)


def keyed_digest(*parts: str, n: int = 20) -> str:
    """A keyed hash (HMAC-SHA256 under the log salt) of ``parts``: for any name that must not
    reveal a patient id (log references, strip file names), unlike a plain hash, which anyone
    can recompute from a list of candidate ids."""
    return hmac.new(_SALT, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:n]


def pid_ref(patient_id: str) -> str:
    """A stable pseudonymous reference for a patient id, safe for log lines."""
    return "p_" + keyed_digest(patient_id, n=10)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}) or {})
        out = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        if record.exc_info:
            out += "\n" + self.formatException(record.exc_info)
        return out


def _quote(v: Any) -> str:
    s = str(v)
    return f'"{s}"' if (" " in s or "=" in s or not s) else s


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict with the key=value formatter (used by the worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"kv": {"()": "wardwatch.logs.KeyValueFormatter"}},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "kv", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields`` (never pass a raw patient id: use pid_ref)."""
    logger.log(level, msg, extra={"fields": fields})
