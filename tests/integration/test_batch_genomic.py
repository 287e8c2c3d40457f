"""The genomic batch worker against the real Kafka broker: a worker subprocess, FASTA and
expression jobs -> results.genomic, a duplicate job id -> one result, a corrupt file ->
deadletter with its reason, and the worker still alive afterwards."""

from __future__ import annotations

import base64
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

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def genomic_worker(start_worker, tmp_path_factory):
    if not (DATA / "fasta").is_dir():
        pytest.skip("shared data missing")
    artifacts = tmp_path_factory.mktemp("genomic-artifacts")
    return start_batch_worker(start_worker, "genomic", artifacts), artifacts


def test_genomic_jobs_results_duplicate_and_deadletter(genomic_worker, tmp_path):
    worker, artifacts = genomic_worker
    run = unique_run()  # a param of its own makes this run's job ids new (ids hash the params)
    start = marker(["results.genomic", "deadletter"])
    fasta = DATA / "fasta" / "NC_005816.fna"
    expr = DATA / "golub" / "data_set_ALL_AML_train.csv"
    bad = tmp_path / "corrupt.fasta"
    bad.write_bytes(b">r1\nACGTAC\x00\x00\xff\xfe binary junk")
    invalid = tmp_path / "invalid.fasta"
    invalid.write_text(">seq1\nACGTACGT\n>seq2\nACGT9ACGT\n")

    sent = submit_files("genomic", [fasta, expr, bad, invalid], {"run": run})
    ids = [m["job_id"] for m in sent]
    got = results_for("genomic", start, set(ids))
    fa, ex, co, inv = (got[i] for i in ids)

    # FASTA job
    assert len(fa) == 1 and fa[0]["status"] == "ok", fa
    o = fa[0]["outputs"]
    assert o["type"] == "fasta" and o["summary"]["n_records"] == 1
    assert o["records"][0]["length"] == 9609 and o["records"][0]["gc_pct"] == pytest.approx(45.26, abs=0.01)
    assert fa[0]["progress"]["fraction"] == 1.0

    # Expression job: predictions for the 38 samples, PNG stored under artifacts/genomic/<id>/
    assert len(ex) == 1 and ex[0]["status"] == "ok", ex
    eo = ex[0]["outputs"]
    assert eo["n_samples"] == 38 and len(eo["predictions"]) == 38
    png = Path(ex[0]["artifacts"]["clusters.png"])
    assert png.parent == artifacts / "genomic" / ex[0]["job_id"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert ex[0]["versions"]["genomic_model"]

    # Corrupt and invalid files: a failed result with the reason, and a dead letter.
    assert len(co) == 1 and co[0]["status"] == "failed" and co[0]["reason"] == "corrupt_file"
    assert len(inv) == 1 and inv[0]["reason"] == "invalid_alphabet"
    assert "'9'" in inv[0]["error"] and "position 5" in inv[0]["error"]
    [dl] = deadletters_for(start, co[0]["job_id"])
    assert dl["reason"] == "corrupt_file" and dl["source_topic"] == "jobs.genomic"
    assert base64.b64decode(dl["original_b64"])  # the original job message travels along

    # Duplicate job id: same file + params again -> skipped, still exactly one result.
    again = submit_files("genomic", [fasta], {"run": run})
    assert again[0]["job_id"] == ids[0]
    worker.wait_for(f"job_id={ids[0]}", timeout=10)
    worker.wait_for("job.duplicate_skipped", timeout=120)
    # The worker is alive and still serving after the corrupt file and the duplicate.
    assert worker.alive()
    sentinel = submit_files("genomic", [DATA / "fasta" / "alpha.faa"], {"run": run})
    after = results_for("genomic", start, {ids[0], sentinel[0]["job_id"]}, settle_s=3.0)
    assert len(after[ids[0]]) == 1, "duplicate job id produced a second result"
    assert after[sentinel[0]["job_id"]][0]["outputs"]["records"][0]["alphabet"] == "protein"
    assert worker.alive()
