"""The notes batch worker against the real Kafka broker: a worker subprocess, a note ->
results.notes (de-identified), ``wardwatch batch submit notes --wait`` end to end, a duplicate
job id -> one result, a corrupt file -> deadletter with its reason, the worker still alive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from batch.client import submit_files
from wardwatch.kafka_io import consume, end_offsets

pytestmark = pytest.mark.integration

# ---- helpers (kept in this file: the test folders are not an importable package)
def unique_run() -> str:
    return uuid.uuid4().hex[:10]


def start_batch_worker(start_worker, kind: str, artifacts: Path):
    """A ``wardwatch batch worker KIND`` subprocess in a consumer group of its own."""
    env = {"WARDWATCH_APP_ID": f"wardwatch-test-{kind}-{unique_run()}",
           "WARDWATCH_ARTIFACTS_DIR": str(artifacts)}
    return start_worker(["batch", "worker", kind], env=env, ready="worker.ready", timeout=300)


def results_for(kind: str, start: dict, job_ids: set[str], timeout_s: float = 240.0,
                settle_s: float = 0.0) -> dict[str, list[dict[str, Any]]]:
    """Every result for ``job_ids`` on ``results.<kind>`` after ``start`` (all copies, so a
    duplicate result would show as a second entry). Waits until each id has one, then
    ``settle_s`` more seconds for any extra copy."""
    got: dict[str, list[dict[str, Any]]] = {j: [] for j in job_ids}
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    def settled(_seen) -> bool:
        nonlocal settle_until
        now = time.monotonic()
        if settle_until is None and all(got.values()):
            settle_until = now + settle_s
        return (settle_until is not None and now >= settle_until) or now > deadline

    # ``stop`` is checked after every poll, also when nothing new arrives
    for _topic, _key, value in consume([f"results.{kind}"], start=start, timeout_s=timeout_s,
                                       stop=settled):
        if isinstance(value, dict) and value.get("job_id") in got:
            got[value["job_id"]].append(value)
    return got


def deadletters_for(start: dict, job_id: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _topic, _key, value in consume(["deadletter"], start=start, timeout_s=timeout_s):
        if isinstance(value, dict) and (value.get("detail") or {}).get("job_id") == job_id:
            out.append(value)
            break
    return out


def marker(topics: list[str]) -> dict:
    from batch.worker import ensure_batch_topics

    for k in {t.split(".", 1)[1] for t in topics if t.startswith("results.")}:
        ensure_batch_topics(k)
    return end_offsets(topics)
# ----

WARDWATCH = str(Path(sys.executable).with_name("wardwatch"))

NOTE = """PATIENT NAME: John Smith   MRN: 00123456   ADMISSION DATE: 03/14/2024
HISTORY OF PRESENT ILLNESS: Mr. Smith presents with dyspnea and a fever of 102.4°F.
He denies chest pain. History of atrial fibrillation.
FAMILY HISTORY: Mother with breast cancer.
MEDICATIONS: Metoprolol 25 mg daily.
PHYSICAL EXAMINATION: BP 142/88 mmHg, HR 104, SpO2 91% on room air. Weight 176 lb.
Call Dr. Alice Walker at (412) 555-0199.
"""


@pytest.fixture(scope="module")
def notes_worker(start_worker, tmp_path_factory):
    return start_batch_worker(start_worker, "notes", tmp_path_factory.mktemp("notes-artifacts"))


def test_notes_job_result_duplicate_and_deadletter(notes_worker, tmp_path):
    worker = notes_worker
    run = unique_run()
    note = tmp_path / "note.txt"
    note.write_text(NOTE + f"\nRun {run}.\n")
    bad = tmp_path / "corrupt.txt"
    bad.write_bytes(bytes(range(256)) * 8 + run.encode())  # new bytes -> a new job id each run
    start = marker(["results.notes", "deadletter"])

    sent = submit_files("notes", [note, bad])
    ids = [m["job_id"] for m in sent]
    got = results_for("notes", start, set(ids))
    ok, co = got[ids[0]], got[ids[1]]

    assert len(ok) == 1 and ok[0]["status"] == "ok", ok
    o = ok[0]["outputs"]
    blob = json.dumps(ok[0])
    for ident in ("John", "Smith", "00123456", "03/14/2024", "Alice", "Walker", "555-0199"):
        assert ident not in blob, f"{ident} reached the stored result"
    ents = {e["text"].lower(): e for e in o["entities"]}
    assert ents["chest pain"]["negated"] and not ents["dyspnea"]["negated"]
    assert ents["atrial fibrillation"]["historical"] and ents["breast cancer"]["family"]
    assert {"temp_c": 39.1} in [m["values"] for m in o["measurements"]]
    assert {m["kind"] for m in o["measurements"]} >= {"blood_pressure", "heart_rate", "spo2", "weight"}
    assert {s["name"] for s in o["sections"]} >= {"history_of_present_illness", "family_history",
                                                  "medications", "physical_exam"}

    assert len(co) == 1 and co[0]["status"] == "failed" and co[0]["reason"] == "corrupt_file"
    [dl] = deadletters_for(start, ids[1])
    assert dl["reason"] == "corrupt_file" and dl["source_topic"] == "jobs.notes"

    # Duplicate through the CLI: `batch submit --wait` answers with the one existing result.
    out = subprocess.run([WARDWATCH, "batch", "submit", "notes", str(note), "--wait",
                          "--timeout", "120"], capture_output=True, text=True, timeout=300, check=False,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
    [res] = json.loads(out.stdout)
    assert res["job_id"] == ids[0]
    worker.wait_for("job.duplicate_skipped", timeout=120)
    assert worker.alive()

    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text(f"No fever. Run {run}.")
    s_id = submit_files("notes", [sentinel])[0]["job_id"]
    after = results_for("notes", start, {ids[0], s_id}, settle_s=3.0)
    assert len(after[ids[0]]) == 1, "duplicate job id produced a second result"
    assert after[s_id][0]["outputs"]["summary"]["problems_negated"] == ["fever"]
    assert worker.alive()
