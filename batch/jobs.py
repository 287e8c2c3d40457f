"""Batch job and result messages, and the pure bookkeeping of the job-worker loop.

Nothing here talks to Kafka: :mod:`batch.worker` is the thin shell that moves these messages
between ``jobs.<kind>``, ``results.<kind>`` and ``deadletter``.

Job message (JSON value on ``jobs.<kind>``, key = ``job_id``)::

    {"job_id": "image-3f2a...", "kind": "image", "submitted_at": "2026-11-25T19:30:00+00:00",
     "filename": "CT_small.dcm", "sha256": "3f2a...", "size_bytes": 39206,
     "payload_b64": "<file bytes, base64>"          # inline, up to MAX_INLINE_BYTES
     # or "path": "/shared/fs/file.dcm"              # larger files, read by the worker
     "params": {}}

The job id is a content address: ``<kind>-<sha256(file bytes [+ canonical params])[:32]>``, so
submitting the same file twice is the same job and yields one result.

Result message (JSON value on ``results.<kind>``, key = ``job_id``)::

    {"job_id", "kind", "status": "ok" | "failed", "reason": null | "<reason code>",
     "error": null | "<message>", "filename", "submitted_at", "started_at", "finished_at",
     "latency_s", "outputs": {...}, "artifacts": {"thumbnail.png": "/abs/path"},
     "versions": {"wardwatch": "...", ...}, "warnings": [...],
     "progress": {"fraction": 1.0, "stages": [{"stage": "decode", "fraction": 0.1, "t_s": 0.01}]},
     "worker": "<host>:<pid>"}

A handler is ``handle(job: Job) -> dict`` returning ``{"outputs": {...}, "artifacts": {name:
bytes}, "versions": {...}, "warnings": [...]}`` (only ``outputs`` is required). It does no I/O:
artifacts come back as bytes and the worker stores them under
``settings.artifacts_path/<kind>/<job_id>/<name>``. A handler rejects bad input by raising
:class:`JobRejected` with a short reason code (``"corrupt_file"``, ``"unsupported_format"``...);
any other exception becomes reason ``"processing_error"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KINDS: tuple[str, ...] = ("image", "genomic", "notes")

#: Files up to this size travel inline (base64) in the job message; bigger ones go by ``path``.
#: The jobs/results/deadletter topics are configured for messages up to MAX_MESSAGE_BYTES.
MAX_INLINE_BYTES: int = 4 * 1024 * 1024
MAX_MESSAGE_BYTES: int = 8 * 1024 * 1024
#: Default cap on a file read by ``path`` (settings: ``WARDWATCH_BATCH_MAX_PATH_BYTES``).
MAX_PATH_BYTES: int = 512 * 1024 * 1024
#: Job ids remembered by a worker's :class:`DoneSet` (oldest forgotten first).
DONE_SET_MAX: int = 200_000

SCHEMA_VERSION = 1

_KIND_OK = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_NAME_OK = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class JobRejected(Exception):
    """A job whose input cannot be processed (bad bytes, corrupt file, unsupported format).

    Parameters
    ----------
    reason : str
        Short machine-readable reason code, e.g. ``"corrupt_file"``.
    message : str
        Human-readable explanation (must not contain patient identifiers).
    detail : dict, optional
        Extra JSON-serialisable context for the dead-letter record.
    """

    def __init__(self, reason: str, message: str = "", detail: dict[str, Any] | None = None):
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
        self.detail = detail or {}


ProgressFn = Callable[[str, float], None]


def _no_progress(stage: str, fraction: float) -> None:  # pragma: no cover - trivial
    return None


@dataclass
class Job:
    """One decoded job, as handed to a handler.

    Attributes
    ----------
    job_id, kind, filename, submitted_at : str
        From the job message.
    data : bytes
        The file bytes (decoded from ``payload_b64`` or read from ``path`` by the worker).
    params : dict
        Handler-specific parameters.
    progress : callable
        ``progress(stage, fraction)``; handlers call it at each stage (0 <= fraction <= 1).
    """

    job_id: str
    kind: str
    filename: str
    data: bytes
    submitted_at: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn = _no_progress


# --------------------------------------------------------------------------- ids and messages
def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def make_job_id(kind: str, data: bytes, params: dict[str, Any] | None = None) -> str:
    """Content-addressed job id: same kind + same bytes (+ same params) -> same id.

    >>> make_job_id("notes", b"no fever") == make_job_id("notes", b"no fever")
    True
    """
    h = hashlib.sha256(data)
    if params:
        h.update(b"\0params\0" + json.dumps(params, sort_keys=True, separators=(",", ":")).encode())
    return f"{kind}-{h.hexdigest()[:32]}"


def make_job_message(
    kind: str,
    data: bytes,
    filename: str,
    params: dict[str, Any] | None = None,
    *,
    path: str | Path | None = None,
    max_inline: int = MAX_INLINE_BYTES,
) -> dict[str, Any]:
    """Build the job message for ``data`` (inline when small, else by ``path``).

    Raises
    ------
    ValueError
        Unknown kind, or a file too large to go inline without a ``path`` to send instead.
    """
    if not _KIND_OK.match(kind):
        raise ValueError(f"bad job kind {kind!r}; the workers serve: {', '.join(KINDS)}")
    params = dict(params or {})
    msg: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "job_id": make_job_id(kind, data, params),
        "kind": kind,
        "submitted_at": utc_now(),
        "filename": Path(filename).name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "params": params,
    }
    if len(data) <= max_inline:
        msg["payload_b64"] = base64.b64encode(data).decode()
    elif path is not None:
        msg["path"] = str(Path(path).resolve())
    else:
        raise ValueError(f"{len(data)} bytes is over the inline limit ({max_inline}); send a path")
    return msg


def parse_job_message(
    raw: bytes | None,
    expected_kind: str,
    *,
    path_roots: Sequence[Path] = (),
    max_path_bytes: int = MAX_PATH_BYTES,
) -> Job:
    """Decode and validate one raw job message into a :class:`Job`.

    A job by ``path`` is read only when the path, symlinks resolved, lies under one of
    ``path_roots`` (none configured: path jobs are refused) and the file is at most
    ``max_path_bytes``; a worker never reads an arbitrary file because a message names it.
    The ``job_id`` must be the content address of the bytes and params (:func:`make_job_id`),
    so a message cannot claim another job's id and have its result skipped or overwritten.

    Raises
    ------
    JobRejected
        ``bad_message`` (not JSON / missing or wrong fields), ``wrong_kind``, ``bad_payload``
        (base64 invalid or sha256 mismatch), ``path_not_allowed``, ``file_too_large``,
        ``file_not_found``, ``bad_job_id``.
    """
    try:
        msg = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as e:
        raise JobRejected("bad_message", f"job message is not JSON: {e.__class__.__name__}") from e
    if not isinstance(msg, dict):
        raise JobRejected("bad_message", "job message is not a JSON object")
    missing = [k for k in ("job_id", "kind", "filename") if not isinstance(msg.get(k), str)]
    if missing:
        raise JobRejected("bad_message", f"job message lacks string field(s): {missing}")
    if msg["kind"] != expected_kind:
        raise JobRejected("wrong_kind", f"job kind {msg['kind']!r} on the {expected_kind} topic")
    if not _NAME_OK.match(msg["job_id"]):
        raise JobRejected("bad_message", "job_id must match [A-Za-z0-9._-]{1,100}")
    params = msg.get("params") or {}
    if not isinstance(params, dict):
        raise JobRejected("bad_message", "params must be a JSON object")
    if "payload_b64" in msg:
        try:
            data = base64.b64decode(msg["payload_b64"], validate=True)
        except (binascii.Error, TypeError, ValueError) as e:
            raise JobRejected("bad_payload", "payload_b64 is not valid base64") from e
    elif "path" in msg:
        data = read_job_path(msg["path"], path_roots, max_path_bytes)
    else:
        raise JobRejected("bad_message", "job message has neither payload_b64 nor path")
    sha = msg.get("sha256")
    if sha and hashlib.sha256(data).hexdigest() != sha:
        raise JobRejected("bad_payload", "sha256 of the file bytes does not match the message")
    if msg["job_id"] != make_job_id(expected_kind, data, params):
        raise JobRejected("bad_job_id", "job_id is not the content address of the file bytes and params")
    return Job(
        job_id=msg["job_id"],
        kind=msg["kind"],
        filename=Path(msg["filename"]).name,
        data=data,
        submitted_at=str(msg.get("submitted_at") or ""),
        params=params,
    )


def read_job_path(path: Any, roots: Sequence[Path], max_bytes: int) -> bytes:
    """The bytes of a path job's file, if it lies under an allowed root and within the size cap."""
    if not isinstance(path, str) or not path:
        raise JobRejected("bad_message", "path must be a non-empty string")
    if not roots:
        raise JobRejected("path_not_allowed", "path jobs are disabled (no WARDWATCH_BATCH_PATH_ROOTS)")
    try:
        real = Path(path).resolve(strict=True)
        if not any(real.is_relative_to(Path(r).resolve()) for r in roots):
            raise JobRejected("path_not_allowed", "job path is outside the allowed roots")
        size = real.stat().st_size
        if size > max_bytes:
            raise JobRejected("file_too_large", f"job file is {size} bytes, over the cap of {max_bytes}")
        return real.read_bytes()
    except OSError as e:
        raise JobRejected("file_not_found", f"cannot read job path: {e.__class__.__name__}") from e


def peek_job_id(raw: bytes | None, key: bytes | None) -> str | None:
    """Best-effort job id of a (possibly malformed) message: the JSON field, else the key."""
    try:
        msg = json.loads(raw or b"")
        if isinstance(msg, dict) and isinstance(msg.get("job_id"), str):
            return msg["job_id"]
    except (ValueError, UnicodeDecodeError):
        pass
    if key:
        k = key.decode("utf-8", "replace")
        return k if _NAME_OK.match(k) else None
    return None


# --------------------------------------------------------------------------- progress
class ProgressLog:
    """Collects ``(stage, fraction, t_s)`` marks of one job; ``on_mark`` sees each one live."""

    def __init__(self, clock: Callable[[], float], on_mark: ProgressFn | None = None):
        self._clock = clock
        self._t0 = clock()
        self._on_mark = on_mark
        self.stages: list[dict[str, Any]] = []

    def __call__(self, stage: str, fraction: float) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        self.stages.append(
            {"stage": stage, "fraction": round(fraction, 3), "t_s": round(self._clock() - self._t0, 4)}
        )
        if self._on_mark is not None:
            self._on_mark(stage, fraction)

    def as_dict(self, done: bool) -> dict[str, Any]:
        frac = 1.0 if done else (self.stages[-1]["fraction"] if self.stages else 0.0)
        return {"fraction": frac, "stages": list(self.stages)}


# --------------------------------------------------------------------------- results
def _json_safe(value: Any) -> Any:
    """Round-trip through JSON so a handler's numpy scalars etc. cannot break the producer."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, (datetime, Path)):
        return str(o)
    if isinstance(o, bytes):
        return base64.b64encode(o).decode()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_artifact_name(name: str) -> str:
    """Artifact file names are plain names (no directories), e.g. ``thumbnail.png``."""
    if not _NAME_OK.match(name) or name in (".", ".."):
        raise ValueError(f"bad artifact name {name!r}")
    return name


def artifact_dir(root: Path, kind: str, job_id: str) -> Path:
    """``<artifacts root>/<kind>/<job_id>/`` (job ids are validated plain names)."""
    if not _NAME_OK.match(job_id):
        raise ValueError(f"bad job id {job_id!r}")
    return root / kind / job_id


def build_result(  # noqa: PLR0913 - one keyword per result field
    job: Job,
    *,
    status: str,
    started_at: str,
    finished_at: str,
    latency_s: float,
    progress: dict[str, Any],
    worker: str,
    versions: dict[str, str],
    outputs: dict[str, Any] | None = None,
    artifacts: dict[str, str] | None = None,
    warnings: Iterable[str] = (),
    reason: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The result message for one job (``status`` is ``"ok"`` or ``"failed"``)."""
    if status not in ("ok", "failed"):
        raise ValueError(f"status must be 'ok' or 'failed', not {status!r}")
    return {
        "schema": SCHEMA_VERSION,
        "job_id": job.job_id,
        "kind": job.kind,
        "status": status,
        "reason": reason,
        "error": error,
        "filename": job.filename,
        "submitted_at": job.submitted_at,
        "started_at": started_at,
        "finished_at": finished_at,
        "latency_s": round(latency_s, 4),
        "outputs": _json_safe(outputs or {}),
        "artifacts": dict(artifacts or {}),
        "versions": dict(versions),
        "warnings": list(warnings),
        "progress": progress,
        "worker": worker,
    }


def too_large_result(result: dict[str, Any], error: str) -> dict[str, Any]:
    """``result`` failed with reason ``result_too_large``: what the broker refused (``error``)
    is dropped (``outputs``, ``warnings``), the rest (status, timing, stored artifacts) is kept.

    >>> r = too_large_result({"status": "ok", "reason": None, "outputs": {"x": 1}, "warnings": []}, "E")
    >>> r["status"], r["reason"], r["outputs"]
    ('failed', 'result_too_large', {})
    """
    return {
        **result,
        "status": "failed",
        "reason": "result_too_large",
        "error": f"the result was larger than the results topic takes ({error}); outputs dropped",
        "outputs": {},
        "warnings": [],
    }


# --------------------------------------------------------------------------- idempotency
class DoneSet:
    """Job ids that already have a result on ``results.<kind>`` (the source of truth).

    The worker fills it from the whole results topic at start-up, keeps it updated by tailing
    the topic (results written by other worker instances too), and adds each id it produces.

    >>> done = DoneSet()
    >>> done.decide("image-a")
    'process'
    >>> done.add("image-a")
    >>> done.decide("image-a")
    'skip'
    """

    def __init__(self, ids: Iterable[str] = (), max_size: int = DONE_SET_MAX):
        self.max_size = max_size
        self._ids: OrderedDict[str, None] = OrderedDict()
        for job_id in ids:
            self.add(job_id)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, job_id: str) -> None:
        """Remember ``job_id``; past ``max_size`` ids the oldest is forgotten (bounded memory).
        A forgotten job submitted again is processed again and yields the same result id."""
        self._ids[job_id] = None
        self._ids.move_to_end(job_id)
        while len(self._ids) > self.max_size:
            self._ids.popitem(last=False)

    def add_result_value(self, raw: bytes | None, key: bytes | None = None) -> str | None:
        """Record the job id of one raw result message (JSON ``job_id``, else the key); a result
        of a rejected message (``"rejected": true``: its id was never verified) is not a job
        done.

        >>> done = DoneSet()
        >>> done.add_result_value(b'{"job_id": "notes-a", "status": "failed", "rejected": true}')
        >>> done.decide("notes-a")
        'process'
        """
        try:
            if json.loads(raw or b"").get("rejected") is True:
                return None
        except (ValueError, UnicodeDecodeError, AttributeError):
            pass
        job_id = peek_job_id(raw, key)
        if job_id:
            self.add(job_id)
        return job_id

    def decide(self, job_id: str | None) -> str:
        """``"skip"`` when a result for ``job_id`` already exists, else ``"process"``."""
        return "skip" if job_id is not None and job_id in self._ids else "process"


def replay_done(results: Iterable[tuple[bytes | None, bytes | None]]) -> DoneSet:
    """A :class:`DoneSet` from ``(key, value)`` pairs of the results topic, oldest first."""
    done = DoneSet()
    for key, value in results:
        done.add_result_value(value, key)
    return done
