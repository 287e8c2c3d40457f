"""Image batch worker against the real Kafka: results, idempotency, dead letters, liveness.

The worker runs as a subprocess (``wardwatch batch worker image``); jobs are submitted with the
same client the CLI uses, and once through the CLI itself.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

pytestmark = pytest.mark.integration

DEID_KEY = "integration-test-key"
# A parameter unique to this session makes fresh job ids (job id = kind + content + params),
# so the tests also hold with WARDWATCH_TEST_EXTERNAL=1 against a broker with older results.
RUN = {"test_run": uuid.uuid4().hex[:12]}
SUBMITTED: set[str] = set()  # job ids this session submitted


@pytest.fixture(scope="module")
def artifacts_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def image_worker(start_worker, artifacts_dir):
    # its own consumer group, so that no other image worker on a shared broker takes our jobs
    env = {
        "WARDWATCH_ARTIFACTS_DIR": str(artifacts_dir),
        "WARDWATCH_IMAGE_DEID_KEY": DEID_KEY,
        "WARDWATCH_APP_ID": f"wardwatch-test-{RUN['test_run']}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    # TensorFlow import + DenseNet121 build takes a while on a shared CPU
    w = start_worker(["batch", "worker", "image"], env=env, ready="worker.ready", timeout=400)
    os.environ["WARDWATCH_ARTIFACTS_DIR"] = str(artifacts_dir)
    return w


def _copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copy(get_testdata_file(name), dst)
    return dst


def _submit_and_wait(paths: list[Path], timeout: float = 240.0) -> tuple[list[dict], dict]:
    from batch.client import submit_files, wait_results

    sent = submit_files("image", paths, RUN)
    SUBMITTED.update(m["job_id"] for m in sent)
    found = wait_results("image", [m["job_id"] for m in sent], timeout_s=timeout)
    return sent, found


def _all_records(topic: str) -> list[tuple[str, dict]]:
    """Every (key, value) on ``topic`` from the beginning to its current end."""
    from kafka import KafkaConsumer, TopicPartition

    from wardwatch.settings import get_settings

    c = KafkaConsumer(
        bootstrap_servers=get_settings().bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=16 << 20,
        max_partition_fetch_bytes=16 << 20,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        c.assign(tps)
        c.seek_to_beginning()
        ends = c.end_offsets(tps)
        out: list[tuple[str, dict]] = []
        deadline = time.monotonic() + 30
        while any(c.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
            for _tp, msgs in c.poll(timeout_ms=500).items():
                out += [(m.key.decode() if m.key else "", json.loads(m.value)) for m in msgs]
        return out
    finally:
        c.close()


def test_ct_job_gives_one_deidentified_result(image_worker, tmp_path):
    path = _copy(tmp_path, "CT_small.dcm")
    t0 = time.monotonic()
    sent, found = _submit_and_wait([path])
    latency = time.monotonic() - t0
    res = found[sent[0]["job_id"]]
    assert res["status"] == "ok", res
    out = res["outputs"]
    assert out["type"] == "image" and out["modality"] == "CT"
    assert out["model"] == {
        **out["model"],
        "name": "DenseNet121",
        "trained": False,
        "warning": "untrained model: outputs are not clinical findings",
    }
    assert out["image"]["units"] == "HU"
    assert out["segmentation"]["lung"]["pixels"] > 0
    assert res["progress"]["fraction"] == 1.0
    assert [s["stage"] for s in res["progress"]["stages"]][:2] == ["read", "deidentify"]
    # de-identified: the report says what changed, and no identifier of the input survives
    deid = out["deidentification"]
    assert any("PatientName" in x for x in deid["replaced_zero_length"])
    assert deid["private_attributes_removed"] > 100
    raw_result = json.dumps(res)
    for ident in ("CompressedSamples", "JFK IMAGING", "1CT1"):
        assert ident not in raw_result
    # artifacts stored under <artifacts>/image/<job id>/ and referenced from the result
    for name in ("thumbnail.png", "findings.json", "deidentified.dcm"):
        p = Path(res["artifacts"][name])
        assert p.is_file() and p.parent.name == res["job_id"] and p.parent.parent.name == "image"
    assert Path(res["artifacts"]["thumbnail.png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import pydicom

    stored = pydicom.dcmread(res["artifacts"]["deidentified.dcm"])
    assert stored.PatientIdentityRemoved == "YES" and str(stored.PatientName) == ""
    print(f"CT job latency submit->result {latency:.2f}s, processing {res['latency_s']:.2f}s")


def test_same_job_twice_gives_one_result(image_worker, tmp_path):
    path = _copy(tmp_path, "MR_small.dcm")
    sent, found = _submit_and_wait([path, path])
    job_id = sent[0]["job_id"]
    assert sent[1]["job_id"] == job_id and found[job_id]["status"] == "ok"
    # the second delivery is skipped by the worker; and a third submission later, too
    image_worker.wait_for(f"msg=job.duplicate_skipped job_id={job_id}", timeout=120)
    _submit_and_wait([path])
    deadline = time.monotonic() + 60
    while image_worker.output().count(f"msg=job.duplicate_skipped job_id={job_id}") < 2:
        assert time.monotonic() < deadline, image_worker.output()[-2000:]
        time.sleep(0.5)
    results = [v for k, v in _all_records("results.image") if v.get("job_id") == job_id]
    assert len(results) == 1


def test_corrupt_file_goes_to_deadletter_and_worker_survives(image_worker, tmp_path):
    from wardwatch.kafka_io import consume, end_offsets

    marker = end_offsets(["deadletter"])
    bad = tmp_path / "corrupt.dcm"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + os.urandom(300))  # preamble, then garbage
    sent, found = _submit_and_wait([bad])
    job_id = sent[0]["job_id"]
    res = found[job_id]
    assert res["status"] == "failed" and res["reason"] in ("corrupt_file", "not_dicom")
    dl = [
        v
        for _t, k, v in consume(
            ["deadletter"],
            start=marker,
            timeout_s=30,
            stop=lambda seen: any(isinstance(v, dict) and v.get("key") == job_id for _, v in seen),
        )
        if isinstance(v, dict) and v.get("key") == job_id
    ]
    assert len(dl) == 1
    rec = dl[0]
    assert rec["reason"] == res["reason"] and rec["source_topic"] == "jobs.image"
    original = json.loads(base64.b64decode(rec["original_b64"]))
    assert base64.b64decode(original["payload_b64"]) == bad.read_bytes()
    # the worker is alive and a good job after the bad one still gets its result
    assert image_worker.alive()
    sent, found = _submit_and_wait([_copy(tmp_path, "693_J2KI.dcm")])  # JPEG 2000 CT
    assert found[sent[0]["job_id"]]["status"] == "ok"
    assert image_worker.alive()


def test_unsupported_and_truncated_inputs_have_reasons(image_worker, tmp_path):
    trunc = tmp_path / "truncated.dcm"
    trunc.write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes()[:5000])
    sent, found = _submit_and_wait([_copy(tmp_path, "rtplan.dcm"), trunc])
    reasons = {m["filename"]: found[m["job_id"]]["reason"] for m in sent}
    assert reasons == {"rtplan.dcm": "unsupported_format", "truncated.dcm": "corrupt_file"}
    assert image_worker.alive()


def test_multi_megabyte_file_goes_inline(image_worker, tmp_path):
    """A ~3 MB CT (CT_small upsampled to 1200x1200) travels inline through jobs.image."""
    import numpy as np
    import pydicom

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    big = np.kron(ds.pixel_array, np.ones((10, 10), dtype=ds.pixel_array.dtype))[:1200, :1200]
    ds.Rows, ds.Columns = big.shape
    ds.PixelData = big.tobytes()
    path = tmp_path / "big_ct.dcm"
    ds.save_as(path)
    assert path.stat().st_size > 2_500_000
    sent, found = _submit_and_wait([path])
    assert "path" not in sent[0] and sent[0]["size_bytes"] == path.stat().st_size  # inline
    res = found[sent[0]["job_id"]]
    assert res["status"] == "ok", res
    assert res["outputs"]["image"]["rows"] == 1200


def test_ecg_waveform_job(image_worker, tmp_path):
    sent, found = _submit_and_wait([_copy(tmp_path, "waveform_ecg.dcm")])
    res = found[sent[0]["job_id"]]
    assert res["status"] == "ok", res
    ecg = res["outputs"]["ecg"]
    assert ecg["n_leads"] == 12 and ecg["fs_hz"] == 1000.0
    assert 55 <= ecg["lead_ii"]["heart_rate_bpm"] <= 67
    if ecg["lead_ii"].get("classifier", {}).get("available"):
        assert sum(ecg["lead_ii"]["beat_counts"].values()) == ecg["lead_ii"]["n_beats"] >= 8
    assert Path(res["artifacts"]["ecg.png"]).is_file()


def test_cli_submit_wait_prints_results(image_worker, tmp_path):
    path = _copy(tmp_path, "SC_rgb_jpeg.dcm")  # JPEG baseline secondary capture
    wardwatch = str(Path(sys.executable).with_name("wardwatch"))
    p = subprocess.run(
        [
            wardwatch,
            "batch",
            "submit",
            "image",
            str(path),
            "--wait",
            "--timeout",
            "240",
            "--param",
            f"test_run={RUN['test_run']}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert p.returncode == 0, p.stderr[-2000:]
    results = json.loads(p.stdout)
    assert len(results) == 1 and results[0]["status"] == "ok"
    assert results[0]["outputs"]["model"]["trained"] is False


def test_new_worker_instance_replays_jobs_without_second_results(image_worker, start_worker, artifacts_dir):
    """A worker in a fresh consumer group re-reads every job on jobs.image (as after a crash
    before the offset commit, or a lost group): the results topic says they are done, so it
    skips them all and no job id gets a second result."""
    env = {
        "WARDWATCH_ARTIFACTS_DIR": str(artifacts_dir),
        "WARDWATCH_IMAGE_DEID_KEY": DEID_KEY,
        "WARDWATCH_APP_ID": f"wardwatch-test-{RUN['test_run']}-replay",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    w = start_worker(
        ["batch", "worker", "image", "--idle-exit", "15"], env=env, ready="worker.ready", timeout=400
    )
    w.proc.wait(timeout=600)
    log = w.output()
    assert "msg=worker.stopped" in log
    assert len(SUBMITTED) >= 8
    for job_id in SUBMITTED:
        assert f"msg=job.duplicate_skipped job_id={job_id}" in log
        assert f"msg=job.done job_id={job_id}" not in log
    counts: dict[str, int] = {}
    for _k, v in _all_records("results.image"):
        counts[v["job_id"]] = counts.get(v["job_id"], 0) + 1
    assert all(counts.get(j) == 1 for j in SUBMITTED), {j: counts.get(j) for j in SUBMITTED}
    dup = {k: n for k, n in counts.items() if n > 1}
    assert not dup, dup
