"""Files only their owner may read (mode 0600): passwords, tokens, keys of the local services."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte (never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def role_secrets(
    folder: Path, roles: tuple[str, ...], suffix: str, prefix_role: bool = False
) -> dict[str, str]:
    """A random secret per role in ``<folder>/<role><suffix>``, made once and kept across
    restarts (``prefix_role``: stored as ``role:secret``, InfluxDB 1.8's token form)."""
    out = {}
    for role in roles:
        f = folder / f"{role}{suffix}"
        if not f.exists():
            token = secrets.token_hex(24)
            write_private(f, (f"{role}:{token}" if prefix_role else token).encode())
        out[role] = f.read_text().strip()
    return out
