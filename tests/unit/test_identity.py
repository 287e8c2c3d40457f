"""Users, passwords and signed tokens (wardwatch.identity)."""

import stat

import pytest

from wardwatch.identity import (
    AuthError,
    User,
    add_user,
    authenticate,
    authorize,
    issue_token,
    load_users,
    read_secret,
    verify_token,
)

SECRET = b"s" * 32


def test_users_file_round_trip_stores_only_an_argon2_hash(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "anna", "correct horse", "nurse", "Anna Berg")
    text = path.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = load_users(path)
    assert authenticate(users, "anna", "correct horse") == User("anna", "Anna Berg", "nurse")
    assert authenticate(users, "anna", "wrong horse!") is None
    assert authenticate(users, "nobody", "correct horse") is None


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [("Anna", "long enough", "nurse"), ("anna", "short", "nurse"), ("anna", "long enough", "god")],
)
def test_add_user_refuses_bad_names_short_passwords_and_unknown_roles(tmp_path, username, password, role):
    with pytest.raises(ValueError):
        add_user(tmp_path / "users.json", username, password, role)


def test_token_verifies_until_it_expires():
    token = issue_token(User("anna", "Anna", "nurse"), SECRET, now=100.0, ttl_s=10)
    assert verify_token(token, SECRET, now=109.9).username == "anna"
    with pytest.raises(AuthError, match="expired"):
        verify_token(token, SECRET, now=110.0)


def test_token_signed_with_another_secret_or_altered_does_not_verify():
    token = issue_token(User("anna", "Anna", "nurse"), SECRET, now=0, ttl_s=60)
    with pytest.raises(AuthError) as e:
        verify_token(token, b"t" * 32, now=1)
    assert e.value.code == "unauthenticated"
    forged = issue_token(User("anna", "Anna", "admin"), b"t" * 32, now=0, ttl_s=60)
    body = forged.rsplit(".", 1)[0]
    with pytest.raises(AuthError, match="signature"):
        verify_token(body + "." + token.rsplit(".", 1)[1], SECRET, now=1)
    # not ASCII: hmac.compare_digest would raise TypeError (a crash of the alert agent, found by
    # tests/unit/streams/test_fuzz.py)
    for junk in (None, "", "v1.x", "v2.a.b", 42, "v1.a.\u00e9", token[:-1] + "\u00e9", "v1.\ud800.x"):
        with pytest.raises(AuthError):
            verify_token(junk, SECRET, now=1)


def test_authorize_checks_the_role():
    assert (
        authorize(issue_token(User("a", "A", "nurse"), SECRET, 0, 60), "silence", SECRET, 1).role == "nurse"
    )
    with pytest.raises(AuthError) as e:
        authorize(issue_token(User("v", "V", "viewer"), SECRET, 0, 60), "acknowledge", SECRET, 1)
    assert e.value.code == "forbidden"


def test_secret_must_be_long_enough(tmp_path):
    with pytest.raises(ValueError):
        read_secret("short")
    f = tmp_path / "secret"
    f.write_text("x" * 40 + "\n")
    assert read_secret("", f) == b"x" * 40
