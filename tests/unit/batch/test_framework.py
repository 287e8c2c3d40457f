"""The pure parts of the batch job framework: ids, messages, idempotency, result building."""

from __future__ import annotations

import base64
import json

import pytest

from batch.jobs import (
    DoneSet,
    Job,
    JobRejected,
    ProgressLog,
    artifact_dir,
    build_result,
    make_job_id,
    make_job_message,
    parse_job_message,
    peek_job_id,
    replay_done,
)


def _raw(msg: dict) -> bytes:
    return json.dumps(msg).encode()


def test_job_id_is_content_address():
    a = make_job_id("image", b"abc")
    assert a == make_job_id("image", b"abc")
    assert a.startswith("image-") and len(a) == len("image-") + 32
    assert a != make_job_id("notes", b"abc")
    assert a != make_job_id("image", b"abd")
    assert make_job_id("image", b"abc", {"w": 1}) != a
    assert make_job_id("image", b"abc", {"a": 1, "b": 2}) == make_job_id("image", b"abc", {"b": 2, "a": 1})


def test_message_roundtrip_inline():
    msg = make_job_message("image", b"\x00DICM", "dir/CT.dcm", {"x": 1})
    assert msg["filename"] == "CT.dcm" and "payload_b64" in msg and "path" not in msg
    job = parse_job_message(_raw(msg), "image")
    assert job.data == b"\x00DICM" and job.params == {"x": 1} and job.job_id == msg["job_id"]


def test_large_file_goes_by_path(tmp_path):
    p = tmp_path / "big.bin"
    p.write_bytes(b"x" * 100)
    msg = make_job_message("image", p.read_bytes(), p.name, path=p, max_inline=10)
    assert "payload_b64" not in msg and msg["path"] == str(p.resolve())
    assert parse_job_message(_raw(msg), "image", path_roots=[tmp_path]).data == b"x" * 100
    with pytest.raises(ValueError):
        make_job_message("image", b"x" * 100, "big.bin", max_inline=10)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xff\xfe not json", "bad_message"),
        (b"[1, 2]", "bad_message"),
        (_raw({"job_id": "image-1", "kind": "image"}), "bad_message"),
        (_raw({"job_id": "image-1", "kind": "notes", "filename": "a", "payload_b64": ""}), "wrong_kind"),
        (_raw({"job_id": "../etc", "kind": "image", "filename": "a", "payload_b64": ""}), "bad_message"),
        (_raw({"job_id": "image-1", "kind": "image", "filename": "a", "payload_b64": "!!!"}), "bad_payload"),
        (
            _raw({"job_id": "image-1", "kind": "image", "filename": "a", "path": "/nonexistent/x"}),
            "path_not_allowed",  # no roots configured: path jobs are refused
        ),
        (
            _raw(
                {
                    "job_id": "image-1",
                    "kind": "image",
                    "filename": "a",
                    "payload_b64": base64.b64encode(b"abc").decode(),
                    "sha256": "0" * 64,
                }
            ),
            "bad_payload",
        ),
    ],
)
def test_bad_messages_are_rejected_with_reason(raw, reason):
    with pytest.raises(JobRejected) as e:
        parse_job_message(raw, "image")
    assert e.value.reason == reason


def test_peek_job_id_falls_back_to_key():
    assert peek_job_id(_raw({"job_id": "image-a"}), b"other") == "image-a"
    assert peek_job_id(b"garbage", b"image-b") == "image-b"
    assert peek_job_id(b"garbage", b"bad key/..") is None
    assert peek_job_id(b"garbage", None) is None


def test_done_set_replay_makes_redelivery_a_skip():
    """At-least-once delivery + results topic as the source of truth = one result per job id."""
    results = [(b"image-a", _raw({"job_id": "image-a", "status": "ok"})), (b"image-b", b"not json, keyed")]
    done = replay_done(results)
    assert len(done) == 2
    # a re-delivered job (crash after producing, before committing) is skipped
    assert done.decide("image-a") == "skip" and done.decide("image-b") == "skip"
    assert done.decide("image-c") == "process"
    done.add("image-c")
    assert done.decide("image-c") == "skip"
    assert DoneSet().decide(None) == "process"


def test_simulated_redelivery_produces_one_result():
    """Replay a log of deliveries (with duplicates and a restart) through the decision rule."""
    deliveries = ["image-a", "image-b", "image-a", "image-c", "image-b"]
    results_topic: list[tuple[bytes, bytes]] = []
    done = replay_done(results_topic)
    for i, jid in enumerate(deliveries):
        if i == 3:  # worker restarts: state rebuilt from the results topic only
            done = replay_done(results_topic)
        if done.decide(jid) == "process":
            results_topic.append((jid.encode(), _raw({"job_id": jid})))
            done.add(jid)
    ids = [json.loads(v)["job_id"] for _, v in results_topic]
    assert sorted(ids) == ["image-a", "image-b", "image-c"]


def test_progress_and_result():
    t = iter([0.0, 0.5, 1.0])
    seen = []
    prog = ProgressLog(lambda: next(t), lambda s, f: seen.append((s, f)))
    prog("decode", 0.2)
    prog("model", 1.7)  # clamped
    assert seen == [("decode", 0.2), ("model", 1.0)]
    job = Job("image-a", "image", "x.dcm", b"")
    import numpy as np

    res = build_result(
        job,
        status="ok",
        started_at="s",
        finished_at="f",
        latency_s=1.23456,
        progress=prog.as_dict(done=True),
        worker="w",
        versions={"v": "1"},
        outputs={"n": np.int64(3), "arr": np.arange(2)},
    )
    assert res["outputs"] == {"n": 3, "arr": [0, 1]} and res["progress"]["fraction"] == 1.0
    json.dumps(res)
    with pytest.raises(ValueError):
        build_result(
            job,
            status="weird",
            started_at="",
            finished_at="",
            latency_s=0,
            progress={},
            worker="",
            versions={},
        )


def test_artifact_dir_rejects_traversal(tmp_path):
    assert artifact_dir(tmp_path, "image", "image-a") == tmp_path / "image" / "image-a"
    with pytest.raises(ValueError):
        artifact_dir(tmp_path, "image", "../../x")


def _path_job(p):
    return _raw(make_job_message("image", p.read_bytes(), p.name, path=p, max_inline=1))


def test_path_jobs_only_under_allowed_roots_and_size_cap(tmp_path):
    root, other = tmp_path / "shared", tmp_path / "private"
    root.mkdir()
    other.mkdir()
    inside, outside = root / "a.dcm", other / "secret.txt"
    inside.write_bytes(b"dicom bytes")
    outside.write_bytes(b"not for the worker")
    (root / "link.txt").symlink_to(outside)  # a symlink out of the root is outside too
    assert parse_job_message(_path_job(inside), "image", path_roots=[root]).data == b"dicom bytes"
    for p, reason, kwargs in [
        (outside, "path_not_allowed", {"path_roots": [root]}),
        (root / "link.txt", "path_not_allowed", {"path_roots": [root]}),
        (inside, "path_not_allowed", {}),
        (inside, "file_too_large", {"path_roots": [root], "max_path_bytes": 5}),
    ]:
        with pytest.raises(JobRejected) as e:
            parse_job_message(_path_job(p), "image", **kwargs)
        assert e.value.reason == reason, p
    gone = _path_job(inside)
    inside.unlink()
    with pytest.raises(JobRejected) as e:
        parse_job_message(gone, "image", path_roots=[root])
    assert e.value.reason == "file_not_found"


def test_job_id_must_be_the_content_address():
    msg = make_job_message("notes", b"no fever", "n.txt", {"lang": "en"})
    for forged in (make_job_id("notes", b"other note"), make_job_id("notes", b"no fever")):
        with pytest.raises(JobRejected) as e:
            parse_job_message(_raw({**msg, "job_id": forged}), "notes")
        assert e.value.reason == "bad_job_id"


def test_done_set_is_bounded_and_forgets_the_oldest():
    done = DoneSet(max_size=3)
    for jid in ("a", "b", "c", "a", "d"):  # "a" again: now the newest
        done.add(jid)
    assert len(done) == 3 and "b" not in done and all(j in done for j in ("a", "c", "d"))
