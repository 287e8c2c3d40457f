"""The station's HTTP side without Kafka: sessions, and a 4xx JSON answer to every bad request."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from wardwatch.identity import User, add_user, issue_token, verify_token
from wardwatch.settings import Settings
from wardwatch.web.app import COOKIE, ack_message, create_app
from wardwatch.web.snapshot import ward_apply

SECRET = "s" * 40


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    d = tmp_path_factory.mktemp("web")
    users = d / "users.json"
    add_user(users, "anna", "correct-horse", "nurse", "Anna Berg")
    add_user(users, "vic", "viewer-pass", "viewer", "Vic Viewer")
    # InfluxDB on a port nothing listens on: the trends route must answer 503, not crash
    return Settings(
        auth_secret=SECRET,
        auth_secret_file=None,
        users_file=users,
        run_dir=d,
        influx_url="http://127.0.0.1:9",
        influx_token="x",
    )


@pytest.fixture(scope="module")
def app(settings):
    return create_app(settings, follow_kafka=False)


def login(app, user: str = "anna", password: str = "correct-horse") -> TestClient:
    c = TestClient(app, base_url="http://station.test")
    r = c.post("/login", data={"username": user, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def test_no_secret_no_station(tmp_path):
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(Settings(run_dir=tmp_path, auth_secret="", auth_secret_file=None), follow_kafka=False)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(Settings(run_dir=tmp_path, auth_secret="short", auth_secret_file=None), follow_kafka=False)


def test_pages_redirect_and_apis_answer_401_without_a_session(app):
    c = TestClient(app)
    for path in ("/", "/patient/P1"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    for method, path in [
        ("get", "/api/me"),
        ("get", "/api/snapshot"),
        ("get", "/api/events"),
        ("get", "/api/patients/P1/trends"),
        ("get", "/api/alarms/al-1/strip.png"),
        ("post", "/api/alarms/al-1/action"),
    ]:
        r = getattr(c, method)(path)
        assert r.status_code == 401, (path, r.status_code)
        assert r.json() == {"detail": "not logged in, or the session has expired"}
    assert c.get("/login").status_code == 200
    assert c.get("/static/station.js").status_code == 200  # assets carry no patient data


def test_login_sets_a_strict_httponly_cookie_with_a_verifiable_token(app, settings):
    c = TestClient(app, base_url="http://station.test")
    r = c.post("/login", data={"username": "anna", "password": "correct-horse"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    user = verify_token(c.cookies[COOKIE], settings.auth_secret_value(), time.time())
    assert user == User("anna", "Anna Berg", "nurse")
    assert c.get("/api/me").json() == {
        "username": "anna",
        "name": "Anna Berg",
        "role": "nurse",
        "may_act": True,
    }
    assert c.get("/").status_code == 200
    r = c.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and COOKIE in r.headers["set-cookie"]
    c.cookies.clear()
    assert c.get("/api/me").status_code == 401


def test_bad_logins(app):
    c = TestClient(app)
    for user, pw in [("anna", "wrong-password"), ("nobody", "correct-horse")]:
        r = c.post("/login", data={"username": user, "password": pw}, follow_redirects=False)
        assert r.status_code == 401 and "Unknown user or wrong password" in r.text
        assert COOKIE not in r.headers.get("set-cookie", "")
    assert c.post("/login", data={"username": "anna"}).status_code == 422
    assert c.post("/login", data={"username": "a" * 65, "password": "x"}).status_code == 422
    r = c.post(
        "/login",
        data={"username": "anna", "password": "correct-horse"},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_forged_expired_and_foreign_tokens_are_not_sessions(app):
    secret = SECRET.encode()
    anna = User("anna", "Anna Berg", "nurse")
    for token in [
        "garbage",
        issue_token(anna, b"another-secret-of-at-least-32-bytes!", time.time(), 60),
        issue_token(anna, secret, time.time() - 120, 60),  # expired
        issue_token(anna, secret, time.time(), 60)[:-2] + "xx",  # signature changed
    ]:
        c = TestClient(app)
        c.cookies.set(COOKIE, token)
        assert c.get("/api/snapshot").status_code == 401


def test_alarm_actions_answer_4xx_for_every_bad_request(app):
    c = login(app)
    live = app.state.live
    ward_apply(
        live.ward,
        "alerts",
        {
            "event_id": "ev-1",
            "alert_id": "al-known",
            "type": "raised",
            "patient_id": "P1",
            "bed": "W1-01",
            "source": "news2",
            "priority": "high",
            "onset_ts": "2026-12-05T10:00:00+00:00",
            "ts": "2026-12-05T10:00:00+00:00",
            "message": "NEWS2 7",
        },
    )
    url = "/api/alarms/al-known/action"
    cases = [
        ({"action": "dismiss"}, 422),
        ({"action": "acknowledge", "by": "someone-else"}, 422),  # the user comes from the token only
        ({"action": "silence", "duration_s": 601}, 422),
        ({"action": "silence", "duration_s": 0}, 422),
        ({"action": "acknowledge", "duration_s": 60}, 422),
        ({"action": "acknowledge", "reason": "x" * 501}, 422),
        ({}, 422),
    ]
    for body, status in cases:
        r = c.post(url, json=body)
        assert r.status_code == status, (body, r.text)
        assert "detail" in r.json()
    assert (
        c.post(
            url, content=b"action=acknowledge", headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 422
    )
    assert c.post(url, content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    r = c.post("/api/alarms/al-unknown/action", json={"action": "acknowledge"})
    assert r.status_code == 404 and r.json()["detail"] == "no active alarm with this id"
    r = c.post(url, json={"action": "acknowledge"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    viewer = login(app, "vic", "viewer-pass")
    r = viewer.post(url, json={"action": "acknowledge"})
    assert r.status_code == 403 and "viewer" in r.json()["detail"]
    assert viewer.get("/api/me").json()["may_act"] is False


def test_other_routes_answer_json_4xx_or_503(app):
    c = login(app)
    assert c.get("/api/patients/P1/trends?hours=0").status_code == 422
    assert c.get("/api/patients/P1/trends?hours=1000").status_code == 422
    assert c.get("/api/patients/P1/trends?hours=abc").status_code == 422
    r = c.get("/api/patients/P1/trends?hours=1")
    assert r.status_code == 503 and r.json() == {"detail": "InfluxDB did not answer the trends query"}
    assert c.get("/api/patients/" + "x" * 65 + "/trends").status_code == 422
    r = c.get("/api/alarms/al-nope/strip.png")
    assert r.status_code == 404 and r.json()["detail"] == "no ECG strip for this alarm"
    r = c.get("/no/such/page")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    assert c.put("/api/snapshot").status_code == 405
    snap = c.get("/api/snapshot").json()
    assert set(snap) == {"beds", "alarms", "ecg", "feed_ok"} and snap["feed_ok"] is False


def test_a_strip_outside_the_artifacts_folder_is_never_served(app, settings, tmp_path):
    c = login(app)
    live = app.state.live
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG not really")
    live.ward.strips["al-out"] = str(outside)
    assert c.get("/api/alarms/al-out/strip.png").status_code == 404
    inside = settings.artifacts_path / "strips" / "ecg-vtach-1.png"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(b"\x89PNG\r\n\x1a\n")
    live.ward.strips["al-in"] = str(inside)
    r = c.get("/api/alarms/al-in/strip.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    live.ward.strips["al-trick"] = str(settings.artifacts_path / "strips" / ".." / ".." / ".." / "secret.png")
    assert c.get("/api/alarms/al-trick/strip.png").status_code == 404


def test_ack_message_follows_the_contract():
    assert ack_message("P1", "al-1", "acknowledge", "v1.a.b", None, None) == {
        "patient_id": "P1",
        "alert_id": "al-1",
        "action": "acknowledge",
        "token": "v1.a.b",
    }
    assert ack_message("P1", "al-1", "silence", "v1.a.b", None, "procedure") == {
        "patient_id": "P1",
        "alert_id": "al-1",
        "action": "silence",
        "token": "v1.a.b",
        "duration_s": 120.0,
        "reason": "procedure",
    }
