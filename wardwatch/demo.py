"""``wardwatch demo``: services up, a stream worker, a simulated ward with vitals and ECG beds,
the web central station, and a live terminal view.

The vitals beds come from :mod:`simulators.vitals` (stable patients and a deteriorating septic
one, hypoxia, bradycardia); the ECG (telemetry) beds from :mod:`simulators.ecg_synth`, each with
its own arrhythmia or technical event (VT run, pause, atrial fibrillation, leads off, VF). The
web station (``wardwatch web``, in this process) shows all of it; the demo prints its address
and a demo login. The live table shows what the pipeline produced (NEWS2 points and alert events
read back from Kafka), not what the simulator sent, so a broken pipeline shows as an empty table.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from wardwatch.settings import Settings

PRIORITY_STYLE = {"high": "bold white on red", "medium": "black on yellow", "low": "cyan"}
#: The ECG beds' scenarios, in order (:data:`simulators.ecg_synth.SCENARIOS`).
ECG_SCENARIOS = ("vrun", "af", "pause", "leads_off", "vf", "sinus", "brady", "noise")
DEMO_USER = "demo"


@dataclass
class BedView:
    bed: str
    patient_id: str
    vitals: dict = field(default_factory=dict)
    news2: int | None = None
    risk: str = ""
    alerts: dict = field(default_factory=dict)  # source -> (type, priority)


class WardView:
    def __init__(self) -> None:
        self.beds: dict[str, BedView] = {}
        self.events: list[dict] = []
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def on_point(self, p: dict) -> None:
        tags = p.get("tags", {})
        pid = tags.get("patient")
        if not pid:
            return
        with self.lock:
            b = self.beds.setdefault(pid, BedView(tags.get("bed", "?"), pid))
            if p["measurement"] == "vitals":
                b.vitals.update(p["fields"])
                self.counts["vitals points"] += 1
            elif p["measurement"] == "news2":
                b.news2 = p["fields"]["score"]
                b.risk = p["fields"].get("risk", "")
                self.counts["news2 scores"] += 1

    def on_alert(self, ev: dict) -> None:
        with self.lock:
            b = self.beds.setdefault(ev["patient_id"], BedView(ev["bed"], ev["patient_id"]))
            if ev["type"] == "resolved":
                b.alerts.pop(ev["source"], None)
            else:
                b.alerts[ev["source"]] = (ev["type"], ev["priority"])
            self.events.append(ev)
            self.counts[f"alerts {ev['type']}"] += 1
            if ev["type"] == "raised":
                self.counts[f"raised {ev['priority']}"] += 1

    def render(self, title: str) -> Group:
        t = Table(title=title, expand=True)
        for col in ("bed", "HR", "SpO2", "RR", "SBP", "Temp", "NEWS2", "alerts"):
            t.add_column(col)
        with self.lock:
            for b in sorted(self.beds.values(), key=lambda b: b.bed):
                v = b.vitals
                alerts = ", ".join(f"[{PRIORITY_STYLE[p]}]{src} {p}[/]" for src, (_, p) in b.alerts.items())
                n2 = "-" if b.news2 is None else str(b.news2)
                style = {"high": "bold red", "medium": "yellow", "low-medium": "cyan"}.get(b.risk, "")
                t.add_row(
                    b.bed,
                    _f(v.get("hr_bpm")),
                    _f(v.get("spo2_pct")),
                    _f(v.get("rr_bpm")),
                    _f(v.get("sbp_mmhg")),
                    _f(v.get("temp_c"), 1),
                    f"[{style}]{n2}[/]" if style else n2,
                    alerts,
                )
            recent = self.events[-6:]
        log = (
            "\n".join(
                f"{e['ts'][11:19]} {e['bed']:>6} {e['type']:<10} "
                f"[{PRIORITY_STYLE.get(e['priority'], '')}]{e['priority']}[/] "
                f"{e['message'][:70]}"
                for e in recent
            )
            or "no alerts yet"
        )
        return Group(t, Panel(log, title="latest alert events"))


def _f(x, nd: int = 0) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _follow(view: WardView, start, stop: threading.Event) -> None:
    from wardwatch import topics
    from wardwatch.kafka_io import consume
    from wardwatch.records.points import unpack_points

    for topic, _, value in consume(
        [topics.POINTS, topics.ALERTS], start=start, timeout_s=10**6, stop=lambda _: stop.is_set()
    ):
        if not isinstance(value, dict):
            continue
        if topic == topics.POINTS:  # one point, or a micro-batch's points in one message
            for p in unpack_points(value):
                view.on_point(p)
        else:
            view.on_alert(value)
        if stop.is_set():
            return


def start_worker_process(s: Settings, log_path: Path) -> subprocess.Popen:
    exe = str(Path(sys.executable).with_name("wardwatch"))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "worker"],
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
        start_new_session=True,
    )


def wait_ready(proc: subprocess.Popen, log_path: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Worker ready" in log_path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}; see {log_path}")
        time.sleep(0.5)
    raise TimeoutError(f"worker not ready after {timeout:.0f}s; see {log_path}")


def demo_secret(s: Settings) -> Settings:
    """``s`` with a token secret: the configured one, or else a new one in ``run_dir/auth_secret``
    (mode 0600, kept for later runs), which the worker started here also reads."""
    try:
        s.auth_secret_value()
        return s
    except ValueError:
        pass
    path = s.run_dir / "auth_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    os.environ["WARDWATCH_AUTH_SECRET_FILE"] = str(path)
    return s.model_copy(update={"auth_secret_file": path})


def demo_user(s: Settings) -> tuple[str, str]:
    """Add (or renew) the demo nurse in the users file; return the login and its new password."""
    from wardwatch.identity import add_user

    password = secrets.token_urlsafe(9)
    add_user(s.users_path, DEMO_USER, password, "nurse", "Demo Nurse")
    return DEMO_USER, password


def ecg_demo_beds(n: int, duration_s: float, seed: int, prefix: str) -> list:
    """``n`` synthetic ECG (telemetry) beds, ``TELE-01``..., each with its scenario's event."""
    from simulators.ecg_synth import synth_beds

    feeds = synth_beds(n, duration_s=duration_s, seed=seed, scenarios=list(ECG_SCENARIOS), prefix=prefix)
    for i, f in enumerate(feeds):
        f.bed = f"TELE-{i + 1:02d}"
    return feeds


def _start_station(s: Settings, host: str, port: int, console: Console):
    try:
        from wardwatch.web.server import StationThread, free_port, port_free
    except ImportError as e:  # an install without the `web` extra (FastAPI, uvicorn)
        console.print(f"[yellow]no web station: {e} (install the `web` extra)[/]")
        return None

    if not port_free(host, port):
        new = free_port(host)
        console.print(f"[yellow]port {port} is taken; the web station uses {new}[/]")
        port = new
    return StationThread(s, host, port).start()


def _run_ward(
    view: WardView,
    patients: list,
    feeds: list,
    *,
    duration_s: float,
    speed: float,
    seed: int,
    title: str,
    console: Console,
    stop: threading.Event,
) -> tuple[int, Any, bool]:
    """Play the vitals beds (this thread, under the live table) and the ECG beds (a thread, in
    real time) until ``duration_s`` ends or Ctrl-C; then let the pipeline drain. Returns the
    readings sent, the ECG play stats and whether the run was interrupted."""
    from simulators.ecg_feed import PlayStats, play
    from simulators.vitals import run_vitals_feed

    ecg_stats = PlayStats()

    def play_ecg() -> None:
        nonlocal ecg_stats
        ecg_stats = play(feeds, speed=1.0, should_stop=stop.is_set)

    ecg_thread = threading.Thread(target=play_ecg, name="ecg-feeds", daemon=True)
    if feeds:
        ecg_thread.start()
    sent = 0
    interrupted = False
    with Live(view.render(title), console=console, refresh_per_second=4) as live:

        def tick(wall, readings):
            live.update(view.render(f"{title} - t+{wall:.0f}s"))

        try:
            sent = run_vitals_feed(
                patients, duration_s=duration_s, speed=speed, seed=seed, on_tick=tick, should_stop=stop.is_set
            )
            # let the pipeline drain: wait until every reading has its vitals point
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and view.counts["vitals points"] < sent:
                live.update(view.render(f"{title} - draining"))
                time.sleep(0.5)
            time.sleep(1.5)
        except KeyboardInterrupt:
            interrupted = True
        live.update(view.render(f"{title} - {'interrupted' if interrupted else 'done'}"))
    stop.set()
    if feeds:
        ecg_thread.join(timeout=10)
    return sent, ecg_stats, interrupted


def run_demo(
    s: Settings,
    *,
    beds: int,
    duration_s: float,
    speed: float,
    seed: int,
    console: Console,
    ecg_beds: int = 6,
    web: bool = True,
    host: str = "127.0.0.1",
    port: int = 8080,
) -> dict:
    from simulators.vitals import run_prefix, ward_plan
    from wardwatch import topics
    from wardwatch.kafka_io import end_offsets
    from wardwatch.services import stack

    with console.status("services: starting Kafka and InfluxDB (first run fetches/builds them)"):
        stack.up(s)
    s = demo_secret(s)
    log_path = s.run_dir / "worker.log"
    log_path.write_text("")
    proc = start_worker_process(s, log_path)
    station = None
    stop = threading.Event()
    try:
        with console.status("stream worker: starting and recovering its tables"):
            wait_ready(proc, log_path)
        login = ""
        if web:
            station = _start_station(s, host, port, console)
        if station is not None:
            user, password = demo_user(s)
            login = f"{user} / {password}"
            console.print(
                f"[bold]Web central station:[/] {station.url}   log in as [bold]{user}[/] "
                f"password [bold]{password}[/]   (Ctrl-C ends the demo)"
            )
        start = end_offsets([topics.POINTS, topics.ALERTS, topics.DEADLETTER])
        prefix = run_prefix()  # new patients per run
        patients = ward_plan(beds, seed=seed, prefix=prefix)
        feeds = ecg_demo_beds(ecg_beds, duration_s, seed, prefix + "E") if ecg_beds else []
        view = WardView()
        follower = threading.Thread(
            target=_follow,
            args=(view, {tp: o for tp, o in start.items() if tp.topic != topics.DEADLETTER}, stop),
            daemon=True,
        )
        follower.start()
        title = (
            f"WardWatch demo - {beds} vitals beds ({duration_s:.0f}s at {speed:g}x, "
            f"{duration_s * speed / 60:.0f} min of device time), {len(feeds)} ECG beds in real time"
        )
        sent, ecg_stats, interrupted = _run_ward(
            view,
            patients,
            feeds,
            duration_s=duration_s,
            speed=speed,
            seed=seed,
            title=title,
            console=console,
            stop=stop,
        )
        from wardwatch.kafka_io import consume

        dead = sum(
            1
            for _ in consume(
                [topics.DEADLETTER],
                start={tp: o for tp, o in start.items() if tp.topic == topics.DEADLETTER},
                timeout_s=1.5,
            )
        )
        summary = {
            "beds": beds,
            "scenarios": dict(Counter(p.scenario for p in patients)),
            "readings_sent": sent,
            "vitals_points": view.counts["vitals points"],
            "news2_scores": view.counts["news2 scores"],
            "ecg_beds": {f.bed: f.source.split(":")[-1] for f in feeds},
            "ecg_chunks_sent": ecg_stats.chunks,
            "alerts_raised": {k.split()[1]: v for k, v in view.counts.items() if k.startswith("raised ")},
            "alert_events": {k.split()[1]: v for k, v in view.counts.items() if k.startswith("alerts ")},
            "deadletter": dead,
            "influxdb": {
                "url": s.influx_url,
                "bucket": s.influx_bucket,
                "measurements": [
                    "vitals",
                    "news2",
                    "risk",
                    "alerts",
                    "pipeline",
                    "ecg_hr",
                    "beats",
                    "ecg_alarms",
                ],
            },
            "web_station": {"url": station.url, "login": login} if station else "off",
            "worker_log": str(log_path),
            "interrupted": interrupted,
        }
        return summary
    finally:
        stop.set()
        if station is not None:
            station.stop()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
