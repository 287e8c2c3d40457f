"""``wardwatch demo``: services up, a stream worker, a simulated ward, a live terminal view.

The live table shows what the pipeline produced (NEWS2 points and alert events read back from
Kafka), not what the simulator sent, so a broken pipeline shows as an empty table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from wardwatch.settings import Settings

PRIORITY_STYLE = {"high": "bold white on red", "medium": "black on yellow", "low": "cyan"}


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


def run_demo(s: Settings, *, beds: int, duration_s: float, speed: float, seed: int, console: Console) -> dict:
    from simulators.vitals import run_prefix, run_vitals_feed, ward_plan
    from wardwatch import topics
    from wardwatch.kafka_io import end_offsets
    from wardwatch.services import stack

    with console.status("services: starting Kafka and InfluxDB (first run fetches/builds them)"):
        stack.up(s)
    log_path = s.run_dir / "worker.log"
    log_path.write_text("")
    proc = start_worker_process(s, log_path)
    try:
        with console.status("stream worker: starting and recovering its tables"):
            wait_ready(proc, log_path)
        start = end_offsets([topics.POINTS, topics.ALERTS, topics.DEADLETTER])
        patients = ward_plan(beds, seed=seed, prefix=run_prefix())  # new patients per run
        view = WardView()
        stop = threading.Event()
        follower = threading.Thread(
            target=_follow,
            args=(view, {tp: o for tp, o in start.items() if tp.topic != topics.DEADLETTER}, stop),
            daemon=True,
        )
        follower.start()
        sent = 0
        title = (
            f"WardWatch demo - {beds} beds, {duration_s:.0f}s at {speed:g}x "
            f"({duration_s * speed / 60:.0f} min of device time)"
        )
        with Live(view.render(title), console=console, refresh_per_second=4) as live:

            def tick(wall, readings):
                live.update(view.render(f"{title} - t+{wall:.0f}s"))

            sent = run_vitals_feed(patients, duration_s=duration_s, speed=speed, seed=seed, on_tick=tick)
            # let the pipeline drain: wait until every reading has its vitals point
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and view.counts["vitals points"] < sent:
                live.update(view.render(f"{title} - draining"))
                time.sleep(0.5)
            time.sleep(1.5)
            live.update(view.render(f"{title} - done"))
        stop.set()
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
            "alerts_raised": {k.split()[1]: v for k, v in view.counts.items() if k.startswith("raised ")},
            "alert_events": {k.split()[1]: v for k, v in view.counts.items() if k.startswith("alerts ")},
            "deadletter": dead,
            "influxdb": {
                "url": s.influx_url,
                "bucket": s.influx_bucket,
                "measurements": ["vitals", "news2", "risk", "alerts", "pipeline"],
            },
            "worker_log": str(log_path),
        }
        return summary
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
