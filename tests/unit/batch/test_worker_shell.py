"""The worker shell's ordering with Kafka replaced by recorders: produce, then commit."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from batch.jobs import JobRejected, make_job_message
from batch.worker import JobWorker


def _handler(job):
    job.progress("work", 0.5)
    if job.data == b"bad":
        raise JobRejected("corrupt_file", "bad bytes")
    if job.data == b"boom":
        raise RuntimeError("handler bug")
    return {"outputs": {"n": len(job.data)}, "artifacts": {"out.txt": job.data}}


@pytest.fixture
def worker(tmp_path, monkeypatch):
    from wardwatch.settings import Settings

    w = JobWorker("image", handler=_handler, settings=Settings(artifacts_dir=tmp_path))
    calls: list[tuple] = []
    monkeypatch.setattr(w, "refresh_done", lambda timeout_s=10.0: calls.append(("refresh",)))
    monkeypatch.setattr(w, "_produce", lambda topic, key, value: calls.append(("produce", topic, key, value)))
    monkeypatch.setattr(w, "_commit", lambda msg: calls.append(("commit", msg.offset)))
    monkeypatch.setattr(w, "_metric", lambda result: None)
    w.calls = calls
    return w


def _msg(value: bytes, key: bytes | None = None, offset: int = 0):
    return SimpleNamespace(topic="jobs.image", partition=0, offset=offset, key=key, value=value)


def _job(data: bytes) -> tuple[bytes, str]:
    m = make_job_message("image", data, "f.dcm")
    return json.dumps(m).encode(), m["job_id"]


def test_ok_job_result_then_commit_and_artifact(worker, tmp_path):
    raw, job_id = _job(b"hello")
    assert worker.handle_message(_msg(raw, job_id.encode(), 5)) == "ok"
    kinds = [c[0] for c in worker.calls]
    assert kinds == ["refresh", "produce", "commit"]  # the commit comes after the result
    _, topic, key, result = worker.calls[1]
    assert topic == "results.image" and key == job_id and result["status"] == "ok"
    assert result["progress"]["fraction"] == 1.0 and result["outputs"] == {"n": 5}
    assert (tmp_path / "image" / job_id / "out.txt").read_bytes() == b"hello"
    assert worker.calls[2] == ("commit", 5)
    # redelivery of the same job: skipped, committed, nothing produced
    worker.calls.clear()
    assert worker.handle_message(_msg(raw, job_id.encode(), 6)) == "skipped"
    assert [c[0] for c in worker.calls] == ["refresh", "commit"]


@pytest.mark.parametrize("data, reason", [(b"bad", "corrupt_file"), (b"boom", "processing_error")])
def test_failed_job_deadletter_then_result_then_commit(worker, data, reason):
    raw, job_id = _job(data)
    assert worker.handle_message(_msg(raw, job_id.encode())) == "failed"
    produced = [(c[1], c[3]) for c in worker.calls if c[0] == "produce"]
    assert [t for t, _ in produced] == ["deadletter", "results.image"]
    dl, res = produced[0][1], produced[1][1]
    assert dl["reason"] == reason == res["reason"] and res["status"] == "failed"
    import base64

    assert base64.b64decode(dl["original_b64"]) == raw  # the original bytes, untouched
    assert worker.calls[-1][0] == "commit"


def test_garbage_without_job_id_is_deadlettered_only(worker):
    assert worker.handle_message(_msg(b"\x00\xffnot json", None)) == "deadletter"
    produced = [c for c in worker.calls if c[0] == "produce"]
    assert len(produced) == 1 and produced[0][1] == "deadletter"
    assert produced[0][3]["reason"] == "bad_message"
    assert worker.calls[-1][0] == "commit"


def test_wrong_kind_gets_failed_result(worker):
    m = make_job_message("notes", b"text", "n.txt")
    assert worker.handle_message(_msg(json.dumps(m).encode(), m["job_id"].encode())) == "failed"
    res = next(c[3] for c in worker.calls if c[0] == "produce" and c[1] == "results.image")
    assert res["reason"] == "wrong_kind" and res["job_id"] == m["job_id"]


def test_produce_failure_does_not_commit(worker, monkeypatch):
    from kafka.errors import KafkaTimeoutError

    def fail(topic, key, value):
        raise KafkaTimeoutError("broker down")

    monkeypatch.setattr(worker, "_produce", fail)
    raw, job_id = _job(b"hello again")
    with pytest.raises(KafkaTimeoutError):
        worker.handle_message(_msg(raw, job_id.encode()))
    assert not any(c[0] == "commit" for c in worker.calls)  # redelivered after the retry
    assert job_id not in worker.done


def test_a_dead_letter_the_broker_refuses_as_too_large_goes_with_the_jobs_head(worker, monkeypatch):
    """A deadletter topic smaller than DEADLETTER_MAX_BYTES (a broker that kept its own limit):
    the worker would otherwise seek back and retry the job forever (a Kafka error), holding
    the partition. The dead letter goes again with the job's head, size and hash, then the
    result and the commit."""
    import base64
    import hashlib

    from kafka.errors import MessageSizeTooLargeError

    from wardwatch.records.deadletter import KEEP_WHEN_TOO_LARGE

    def produce(topic, key, value):
        if len(json.dumps(value)) > 1_000_000:
            raise MessageSizeTooLargeError("too large")
        worker.calls.append(("produce", topic, key, value))

    monkeypatch.setattr(worker, "_produce", produce)
    m = make_job_message("image", b"bad", "f.dcm", params={"pad": "x" * 900_000})  # the handler rejects it
    raw, job_id = json.dumps(m).encode(), m["job_id"]
    assert worker.handle_message(_msg(raw, job_id.encode())) == "failed"
    produced = [(c[1], c[3]) for c in worker.calls if c[0] == "produce"]
    assert [t for t, _ in produced] == ["deadletter", "results.image"]
    dl = produced[0][1]
    assert base64.b64decode(dl["original_b64"]) == raw[:KEEP_WHEN_TOO_LARGE]
    assert (dl["original_truncated"], dl["original_bytes"]) == (True, len(raw))
    assert dl["original_sha256"] == hashlib.sha256(raw).hexdigest()
    assert worker.calls[-1][0] == "commit"


def test_a_result_too_large_for_the_broker_fails_the_job_instead_of_holding_the_partition(
    worker, monkeypatch
):
    """A result larger than the results topic takes (kafka-python refuses it at once): before,
    the worker sought back and ran the job again forever. Now the job fails as
    ``result_too_large``, is dead-lettered, its failed result is produced, then the commit."""
    from kafka.errors import MessageSizeTooLargeError

    def produce(topic, key, value):
        if topic == "results.image" and value["status"] == "ok":
            raise MessageSizeTooLargeError("too large")
        worker.calls.append(("produce", topic, key, value))

    monkeypatch.setattr(worker, "_produce", produce)
    raw, job_id = _job(b"a big result")
    assert worker.handle_message(_msg(raw, job_id.encode(), 3)) == "failed"
    produced = [(c[1], c[3]) for c in worker.calls if c[0] == "produce"]
    assert [t for t, _ in produced] == ["deadletter", "results.image"]
    assert produced[0][1]["reason"] == "result_too_large"
    res = produced[1][1]
    assert (res["status"], res["reason"], res["outputs"]) == ("failed", "result_too_large", {})
    assert res["artifacts"]  # the stored artifact is still named
    assert worker.calls[-1] == ("commit", 3)
    assert job_id in worker.done
