"""Who may act on alarms: users with argon2 password hashes, roles, and signed short-lived tokens.

A person proves who they are once (a password checked against the users file, at the web station's
login or the CLI's prompt); the front end then sends each action with a token that says who they
are, which role they hold and until when, signed with HMAC-SHA256 under a secret that the issuing
front ends and the alert consumer share. The alert consumer trusts the token, never a free-text
name: an action without a valid token, or from a role that may not take it, is dead-lettered.

The users file is JSON, written with mode 0600::

    {"users": {"anna": {"name": "Anna Berg", "role": "nurse", "hash": "$argon2id$..."}}}

Passwords are hashed with argon2id (RFC 9106) through ``argon2-cffi``'s defaults. Tokens are
``v1.<payload>.<signature>`` (base64url, no padding); the payload is
``{"sub", "name", "role", "exp"}`` with ``exp`` in POSIX seconds.

>>> secret = b"k" * 32
>>> user = User("anna", "Anna Berg", "nurse")
>>> token = issue_token(user, secret, now=1000.0, ttl_s=60)
>>> verify_token(token, secret, now=1030.0)
User(username='anna', name='Anna Berg', role='nurse')
>>> allowed(user, "acknowledge"), allowed(User("v", "V", "viewer"), "acknowledge")
(True, False)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: What each role may do. Clinical staff act on alarms; a viewer watches; an admin also manages
#: users (the users file itself is guarded by its file permissions).
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "nurse": frozenset({"acknowledge", "silence"}),
    "physician": frozenset({"acknowledge", "silence"}),
    "admin": frozenset({"acknowledge", "silence", "manage_users"}),
}

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 8
MIN_SECRET_BYTES = 32

_hasher = PasswordHasher()


class AuthError(ValueError):
    """A token or credential that does not hold; ``code`` is ``unauthenticated`` or ``forbidden``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str


def allowed(user: User, action: str) -> bool:
    """Whether ``user``'s role permits ``action``."""
    return action in ROLES.get(user.role, frozenset())


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def load_users(path: Path) -> dict[str, dict[str, str]]:
    """The users of a users file (``{}`` when it does not exist yet)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    users = data.get("users", {}) if isinstance(data, dict) else {}
    if not isinstance(users, dict):
        raise ValueError(f"{path}: 'users' must be an object")
    return users


def add_user(path: Path, username: str, password: str, role: str, name: str = "") -> User:
    """Add or replace a user in the users file (written atomically, mode 0600)."""
    if not USERNAME.match(username):
        raise ValueError("a username is 1-64 of a-z 0-9 . _ - and starts with a letter or digit")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {sorted(ROLES)}")
    users = load_users(path)
    users[username] = {"name": name or username, "role": role, "hash": hash_password(password)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    with os.fdopen(fd, "w") as f:
        json.dump({"users": users}, f, indent=1, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return User(username, users[username]["name"], role)


def authenticate(users: dict[str, dict[str, str]], username: str, password: str) -> User | None:
    """The user whose password this is, or ``None`` (unknown user and wrong password look alike)."""
    entry = users.get(username)
    if entry is None:
        # Spend the same time as a real check, so a login cannot probe which usernames exist.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(entry["hash"], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return User(username, entry.get("name", username), entry.get("role", "viewer"))


_DUMMY_HASH = _hasher.hash("not-a-user-password")


def read_secret(value: str = "", path: Path | None = None) -> bytes:
    """The token secret from a file (preferred) or a value; at least 32 bytes."""
    raw = path.read_text().strip() if path is not None else value
    secret = raw.encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the auth secret must be at least {MIN_SECRET_BYTES} bytes "
            "(WARDWATCH_AUTH_SECRET_FILE or WARDWATCH_AUTH_SECRET)"
        )
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def issue_token(user: User, secret: bytes, now: float, ttl_s: float) -> str:
    """A token saying ``user`` until ``now + ttl_s`` (POSIX seconds)."""
    payload = {"sub": user.username, "name": user.name, "role": user.role, "exp": round(now + ttl_s, 3)}
    body = "v1." + _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return body + "." + _sign(secret, body)


def verify_token(token: Any, secret: bytes, now: float) -> User:
    """The user a token names; raises :class:`AuthError` (``unauthenticated``) if it does not hold."""
    # a token is ASCII (base64url); hmac.compare_digest raises TypeError on any other str
    if (
        not isinstance(token, str)
        or not token.isascii()
        or token.count(".") != 2
        or not token.startswith("v1.")
    ):
        raise AuthError("unauthenticated", "no valid user token")
    body, _, signature = token.rpartition(".")
    if not hmac.compare_digest(signature, _sign(secret, body)):
        raise AuthError("unauthenticated", "user token signature does not verify")
    try:
        payload = json.loads(_unb64(body.split(".", 1)[1]))
        user = User(str(payload["sub"]), str(payload.get("name", payload["sub"])), str(payload["role"]))
        exp = float(payload["exp"])
    except (ValueError, KeyError, TypeError) as e:
        raise AuthError("unauthenticated", f"user token payload is malformed: {e}") from e
    if now >= exp:
        raise AuthError("unauthenticated", "user token has expired")
    return user


def authorize(token: Any, action: str, secret: bytes, now: float) -> User:
    """The verified user of ``token`` if their role permits ``action``; else :class:`AuthError`."""
    user = verify_token(token, secret, now)
    if not allowed(user, action):
        raise AuthError("forbidden", f"role {user.role!r} may not {action}")
    return user
