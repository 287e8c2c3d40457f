"""The genomic batch worker against the real Kafka broker: a worker subprocess, FASTA and
expression jobs -> results.genomic, a duplicate job id -> one result, a corrupt file ->
deadletter with its reason, and the worker still alive afterwards."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from batch.client import submit_files
from wardwatch.settings import shared_data

pytestmark = pytest.mark.integration


DATA = shared_data()


@pytest.fixture(scope="module")
def genomic_worker(start_worker, tmp_path_factory, batch_helpers):
    artifacts = tmp_path_factory.mktemp("genomic-artifacts")
    return batch_helpers.start_batch_worker(start_worker, "genomic", artifacts), artifacts


def test_genomic_jobs_results_duplicate_and_deadletter(genomic_worker, tmp_path, batch_helpers):
    worker, artifacts = genomic_worker
    run = batch_helpers.unique_run()  # a param of its own makes this run's job ids new (ids hash the params)
    start = batch_helpers.marker(["results.genomic", "deadletter"])
    fasta = DATA / "fasta" / "NC_005816.fna"
    expr = DATA / "golub" / "data_set_ALL_AML_train.csv"
    bad = tmp_path / "corrupt.fasta"
    bad.write_bytes(b">r1\nACGTAC\x00\x00\xff\xfe binary junk")
    invalid = tmp_path / "invalid.fasta"
    invalid.write_text(">seq1\nACGTACGT\n>seq2\nACGT9ACGT\n")

    sent = submit_files("genomic", [fasta, expr, bad, invalid], {"run": run})
    ids = [m["job_id"] for m in sent]
    got = batch_helpers.results_for("genomic", start, set(ids))
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
    [dl] = batch_helpers.deadletters_for(start, co[0]["job_id"])
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
    after = batch_helpers.results_for("genomic", start, {ids[0], sentinel[0]["job_id"]}, settle_s=3.0)
    assert len(after[ids[0]]) == 1, "duplicate job id produced a second result"
    assert after[sentinel[0]["job_id"]][0]["outputs"]["records"][0]["alphabet"] == "protein"
    assert worker.alive()
