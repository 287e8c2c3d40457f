from __future__ import annotations

import pytest

from batch.genomic.handler import handle
from batch.jobs import Job, JobRejected


def _job(name: str, data: bytes, **params) -> Job:
    return Job(job_id="genomic-test", kind="genomic", filename=name, data=data, params=params)


def test_fasta_job_gives_per_record_stats(fasta_dir):
    out = handle(_job("multi.fna", (fasta_dir / "multi.fna").read_bytes(), k="2"))
    o = out["outputs"]
    assert o["type"] == "fasta" and o["k"] == 2 and o["summary"]["n_records"] == 3
    assert [r["id"] for r in o["records"]] == ["test1", "test2", "test3"]
    assert o["records"][1]["gc_pct"] == 100.0


def test_expression_job_predicts_and_plots(golub_dir):
    out = handle(_job("golub.csv", (golub_dir / "data_set_ALL_AML_train.csv").read_bytes()))
    o = out["outputs"]
    assert o["type"] == "expression" and o["n_samples"] == 38
    assert o["predicted_counts"]["ALL"] + o["predicted_counts"]["AML"] == 38
    assert out["artifacts"]["clusters.png"][:4] == b"\x89PNG"
    assert o["clustering"]["plot"] == "clusters.png" and len(o["clustering"]["clusters"]) == 38


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("bad.fasta", b">r1\nACGTXX12\n", "invalid_alphabet"),
        ("bad.fasta", b"\x00\x01\x02\x03", "corrupt_file"),
        ("bad.fasta", b"\xff\xfe\xfa text", "corrupt_file"),
        ("bad.fasta", b"no header line\nACGT\n", "corrupt_file"),
        ("bad.csv", b"a,b\n1,2\n", "corrupt_file"),
        ("image.png", b"\x89PNG but not really", "corrupt_file"),
        ("notes.txt", b"plain words", "unsupported_format"),
        ("ok.fasta", b">a\nACGT\n", "bad_params"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(name, data, reason):
    params = {"k": "99"} if reason == "bad_params" else {}
    with pytest.raises(JobRejected) as ei:
        handle(_job(name, data, **params))
    assert ei.value.reason == reason
    if reason == "invalid_alphabet":
        assert ei.value.detail == {
            "record_id": "r1",
            "bad_chars": ["1", "2"],
            "position": 7,
            "alphabet": "nucleotide/protein",
        }
