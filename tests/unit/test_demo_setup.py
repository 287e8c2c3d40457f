"""What the demo sets up before the ward starts: a token secret, the demo login, the ECG beds."""

from __future__ import annotations

import os
import stat

from wardwatch.demo import demo_secret, demo_user, ecg_demo_beds
from wardwatch.identity import authenticate, load_users
from wardwatch.settings import Settings


def test_demo_secret_is_made_once_private_and_handed_to_the_worker(tmp_path, monkeypatch):
    # demo_secret sets the variable for the worker; monkeypatch restores its absence afterwards
    monkeypatch.setenv("WARDWATCH_AUTH_SECRET_FILE", "")
    monkeypatch.delenv("WARDWATCH_AUTH_SECRET_FILE")
    s = demo_secret(Settings(run_dir=tmp_path, auth_secret=""))
    path = tmp_path / "auth_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(s.auth_secret_value()) >= 32
    assert os.environ["WARDWATCH_AUTH_SECRET_FILE"] == str(path)  # the worker's environment
    again = demo_secret(Settings(run_dir=tmp_path, auth_secret=""))
    assert again.auth_secret_value() == s.auth_secret_value()
    configured = Settings(run_dir=tmp_path, auth_secret="c" * 40)
    assert demo_secret(configured) is configured


def test_demo_user_can_log_in_with_the_printed_password(tmp_path):
    s = Settings(run_dir=tmp_path)
    user, password = demo_user(s)
    assert authenticate(load_users(s.users_path), user, password).role == "nurse"
    _, new = demo_user(s)
    assert new != password and authenticate(load_users(s.users_path), user, password) is None


def test_ecg_demo_beds_are_telemetry_beds_with_their_events():
    feeds = ecg_demo_beds(6, 5.0, 7, "SIM1E")
    assert [f.bed for f in feeds] == [f"TELE-0{i}" for i in range(1, 7)]
    assert [f.source for f in feeds] == [
        f"synth:{k}" for k in ("vrun", "af", "pause", "leads_off", "vf", "sinus")
    ]
    assert len({f.patient_id for f in feeds}) == 6 and all(f.lead2 == "V1" for f in feeds)
