"""The web central station in headless Chromium against the real Kafka, InfluxDB and stream worker.

A nurse logs in; a high-priority alarm condition goes to ``alerts.conditions``, the worker's alert
component raises it, and it must be on the page within 2 s; a click on Acknowledge must put the
contract message with the nurse's signed token on ``alerts.ack``, and the worker's
``acknowledged`` event must come back on ``alerts`` (with ``by`` = the nurse once the worker
verifies tokens). A screenshot of the station is saved as a test artifact.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.alarms.lifecycle import alert_id
from wardwatch import topics
from wardwatch.identity import AuthError, add_user, verify_token
from wardwatch.kafka_io import consume, end_offsets, make_producer, send
from wardwatch.records.conditions import Condition
from wardwatch.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "night-shift-2026"


def _first(topic: str, start: dict, match, timeout_s: float) -> dict | None:
    deadline = time.monotonic() + timeout_s
    for _t, _k, value in consume(
        [topic], start=start, timeout_s=timeout_s, stop=lambda _: time.monotonic() > deadline
    ):
        if isinstance(value, dict) and match(value):
            return value
    return None


@pytest.mark.e2e
def test_station_shows_an_alarm_within_2s_and_sends_the_nurses_acknowledgement(
    services, stream_worker, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    from simulators.ecg_feed import play
    from simulators.ecg_synth import synth_beds
    from simulators.vitals import run_vitals_feed, ward_plan
    from wardwatch.web.server import StationThread

    users = tmp_path / "users.json"
    add_user(users, "anna", PASSWORD, "nurse", "Anna Berg")
    s = Settings(users_file=users)
    secret = s.auth_secret_value()
    run = f"WEB{uuid.uuid4().hex[:6].upper()}"
    station = StationThread(s).start()
    try:
        # a small ward: three vitals beds through the worker, two live ECG beds
        patients = ward_plan(3, seed=3, prefix=run, mix={"sepsis": 0.5})
        run_vitals_feed(patients, duration_s=6, speed=60, realtime=False)
        feeds = synth_beds(2, duration_s=20, seed=5, scenarios=["sinus", "af"], prefix=run + "E")
        ecg = threading.Thread(target=play, args=(feeds,), kwargs={"speed": 1.0}, daemon=True)
        ecg.start()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.goto(station.url + "/")
            assert page.url.endswith("/login")
            page.fill("#username", "anna")
            page.fill("#password", "wrong-password")
            page.click("#login")
            expect(page.locator("#login-error")).to_contain_text("wrong password")
            page.fill("#username", "anna")
            page.fill("#password", PASSWORD)
            page.click("#login")
            page.wait_for_url(station.url + "/")
            expect(page.locator("#user")).to_have_text("Anna Berg (nurse)")
            expect(page.locator("#feed")).to_have_text("live", timeout=15_000)
            # the vitals beds' numbers (the worker's points) and the ECG beds' sweeps
            for p in patients:
                expect(
                    page.locator(f'article.bed[data-patient="{p.patient_id}"] .num.hr .v')
                ).not_to_have_text("-", timeout=30_000)
            for f in feeds:
                expect(page.locator(f'canvas.ecg[data-patient="{f.patient_id}"]')).to_be_visible(
                    timeout=15_000
                )

            # an alarm condition through the real alert component
            target = patients[0]
            ts = datetime.now(UTC).isoformat()
            cond = Condition(
                patient_id=target.patient_id,
                bed=target.bed,
                source="ecg.vtach",
                active=True,
                priority="high",
                ts=ts,
                message=f"Ventricular tachycardia {run}: 9 beats at 172 bpm",
                latched=True,
                evidence={"rate_bpm": 172.0, "run_beats": 9},
            )
            aid = alert_id(target.patient_id, "ecg.vtach", ts)
            row = page.locator(f'li.alarm[data-alert-id="{aid}"]')
            producer = make_producer()
            t_sent = time.monotonic()
            send(producer, topics.CONDITIONS, target.patient_id, cond.to_dict()).get(timeout=10)
            row.wait_for(state="visible", timeout=10_000)
            shown_s = time.monotonic() - t_sent
            producer.close()
            print(f"alarm on the page {shown_s:.3f} s after its condition was produced")
            assert shown_s < 2.0
            expect(row).to_have_class("alarm high unack")
            expect(row).to_contain_text(f"Ventricular tachycardia {run}")
            assert page.locator("li.alarm").first.get_attribute("data-priority") == "high"
            expect(page.locator(f'article.bed[data-patient="{target.patient_id}"]')).to_have_class(
                "bed alarm-high"
            )

            # the ECG sweep draws: some green pixels on an ECG bed's canvas
            page.wait_for_timeout(1500)
            ink = page.evaluate(
                """pid => { const c = document.querySelector(`canvas.ecg[data-patient="${pid}"]`);
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 1; i < d.length; i += 4) if (d[i] > 150) n++; return n; }""",
                feeds[0].patient_id,
            )
            assert ink > 200

            shot = tmp_path / "web-station.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            if os.environ.get("WARDWATCH_TEST_ARTIFACTS"):  # a folder CI keeps
                keep = Path(os.environ["WARDWATCH_TEST_ARTIFACTS"])
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, keep / shot.name)
            if os.environ.get("WARDWATCH_UPDATE_DOCS"):
                shutil.copy(shot, REPO / "docs" / "web-station.png")

            # acknowledge with a click: the contract message with the nurse's token
            start = end_offsets([topics.ALERTS_ACK, topics.ALERTS])
            row.locator("button.acknowledge").click()
            ack = _first(
                topics.ALERTS_ACK,
                {tp: o for tp, o in start.items() if tp.topic == topics.ALERTS_ACK},
                lambda v: v.get("alert_id") == aid,
                15,
            )
            assert ack is not None, "no acknowledgement on alerts.ack"
            assert ack["patient_id"] == target.patient_id and ack["action"] == "acknowledge"
            assert "by" not in ack  # the user is in the verified token, never free text
            assert verify_token(ack["token"], secret, time.time()).username == "anna"
            # a token issued for this action, short-lived: not the session cookie's
            session = next(c["value"] for c in page.context.cookies() if c["name"] == "wardwatch_session")
            assert ack["token"] != session
            with pytest.raises(AuthError, match="expired"):
                verify_token(ack["token"], secret, time.time() + 601)
            acked = _first(
                topics.ALERTS,
                {tp: o for tp, o in start.items() if tp.topic == topics.ALERTS},
                lambda v: v.get("alert_id") == aid and v.get("type") == "acknowledged",
                20,
            )
            assert acked is not None, "the worker did not acknowledge the alarm"
            # the worker names the user from the verified token, never from the message
            assert acked["by"] == "anna" and acked["by_name"] == "Anna Berg"
            expect(row).to_have_class("alarm high acked", timeout=10_000)
            page.screenshot(path=str(tmp_path / "web-station-acknowledged.png"), full_page=True)

            # the patient page: trends from InfluxDB (windowed means written by the sink)
            deadline = time.monotonic() + 30
            while True:
                r = page.request.get(f"{station.url}/api/patients/{target.patient_id}/trends?hours=1")
                assert r.status == 200, r.text()
                if r.json()["series"].get("hr_bpm"):
                    break
                assert time.monotonic() < deadline, "no HR trend in InfluxDB after 30 s"
                time.sleep(1)
            page.goto(f"{station.url}/patient/{target.patient_id}")
            expect(page.locator('section.chart[data-chart="hr_bpm"]')).to_be_visible(timeout=10_000)
            expect(page.locator("#title")).to_contain_text(target.bed)

            # logging out ends the session: the API answers 401 and the station page redirects
            page.goto(station.url + "/")
            page.click("#logout")
            page.wait_for_url(station.url + "/login")
            assert page.request.get(f"{station.url}/api/snapshot").status == 401
            browser.close()
        ecg.join(timeout=30)
    finally:
        station.stop()


def _web_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WARDWATCH_AUTH_SECRET", "WARDWATCH_AUTH_SECRET_FILE")
    }
    env.update(extra)
    return env


@pytest.mark.e2e
def test_web_command_refuses_to_start_without_a_token_secret(tmp_path):
    import subprocess

    from wardwatch.web.server import free_port

    wardwatch = str(Path(sys.executable).with_name("wardwatch"))
    for env in (_web_env(), _web_env(WARDWATCH_AUTH_SECRET="too-short")):
        out = subprocess.run(
            [wardwatch, "web", "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "WARDWATCH_RUN_DIR": str(tmp_path), "COLUMNS": "200"},
        )
        assert out.returncode == 2, out.stdout + out.stderr
        assert "wardwatch web cannot start" in out.stdout and "at least 32 bytes" in out.stdout
        assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.e2e
def test_web_command_serves_logins_while_kafka_is_unreachable(tmp_path):
    import subprocess

    import httpx

    from wardwatch.web.server import free_port

    users = tmp_path / "users.json"
    add_user(users, "ben", PASSWORD, "physician", "Ben Okafor")
    secret_file = tmp_path / "secret"
    secret_file.write_text("f" * 48)
    port = free_port()
    env = _web_env(
        WARDWATCH_AUTH_SECRET_FILE=str(secret_file),
        WARDWATCH_USERS_FILE=str(users),
        WARDWATCH_RUN_DIR=str(tmp_path),
        WARDWATCH_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",  # nothing listens there
    )
    wardwatch = str(Path(sys.executable).with_name("wardwatch"))
    log = open(tmp_path / "web.log", "wb")  # noqa: SIM115 - open while the process runs
    proc = subprocess.Popen(
        [wardwatch, "web", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=10) as c:
            assert c.get("/api/snapshot").status_code == 401
            r = c.post("/login", data={"username": "ben", "password": PASSWORD})
            assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
            snap = c.get("/api/snapshot").json()
            assert snap["feed_ok"] is False and snap["alarms"] == []
            assert c.get("/api/me").json()["name"] == "Ben Okafor"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert "Traceback" not in (tmp_path / "web.log").read_text()
