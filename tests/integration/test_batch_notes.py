"""The notes batch worker against the real Kafka broker: a worker subprocess, a note ->
results.notes (de-identified), ``wardwatch batch submit notes --wait`` end to end, a duplicate
job id -> one result, a corrupt file -> deadletter with its reason, the worker still alive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batch.client import submit_files

pytestmark = pytest.mark.integration


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
def notes_worker(start_worker, tmp_path_factory, batch_helpers):
    return batch_helpers.start_batch_worker(start_worker, "notes", tmp_path_factory.mktemp("notes-artifacts"))


def test_notes_job_result_duplicate_and_deadletter(notes_worker, tmp_path, batch_helpers):
    worker = notes_worker
    run = batch_helpers.unique_run()
    note = tmp_path / "note.txt"
    note.write_text(NOTE + f"\nRun {run}.\n")
    bad = tmp_path / "corrupt.txt"
    bad.write_bytes(bytes(range(256)) * 8 + run.encode())  # new bytes -> a new job id each run
    start = batch_helpers.marker(["results.notes", "deadletter"])

    sent = submit_files("notes", [note, bad])
    ids = [m["job_id"] for m in sent]
    got = batch_helpers.results_for("notes", start, set(ids))
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
    assert {s["name"] for s in o["sections"]} >= {
        "history_of_present_illness",
        "family_history",
        "medications",
        "physical_exam",
    }

    assert len(co) == 1 and co[0]["status"] == "failed" and co[0]["reason"] == "corrupt_file"
    [dl] = batch_helpers.deadletters_for(start, ids[1])
    assert dl["reason"] == "corrupt_file" and dl["source_topic"] == "jobs.notes"

    # Duplicate through the CLI: `batch submit --wait` answers with the one existing result.
    out = subprocess.run(
        [WARDWATCH, "batch", "submit", "notes", str(note), "--wait", "--timeout", "120"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    [res] = json.loads(out.stdout)
    assert res["job_id"] == ids[0]
    worker.wait_for("job.duplicate_skipped", timeout=120)
    assert worker.alive()

    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text(f"No fever. Run {run}.")
    s_id = submit_files("notes", [sentinel])[0]["job_id"]
    after = batch_helpers.results_for("notes", start, {ids[0], s_id}, settle_s=3.0)
    assert len(after[ids[0]]) == 1, "duplicate job id produced a second result"
    assert after[s_id][0]["outputs"]["summary"]["problems_negated"] == ["fever"]
    assert worker.alive()
