from __future__ import annotations

import pytest

from batch.jobs import Job, JobRejected
from batch.notes.handler import handle


def test_note_job_outputs_deidentified_result():
    note = b"Patient name: John Smith. MRN: 1234567. Denies fever. Temp 102.4 F."
    out = handle(Job(job_id="notes-t", kind="notes", filename="n.txt", data=note))
    o = out["outputs"]
    assert "John" not in o["text"] and "1234567" not in o["text"]
    assert o["summary"]["problems_negated"] == ["fever"]
    assert o["measurements"][0]["values"] == {"temp_c": 39.1}
    assert out["versions"]["notes_pipeline"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        bytes(range(256)) * 4,
        b"\xff\xfe\x00\x01",
        b"\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f\x10abc",
    ],
)
def test_corrupt_notes_are_rejected(data):
    with pytest.raises(JobRejected) as ei:
        handle(Job(job_id="notes-t", kind="notes", filename="n.txt", data=data))
    assert ei.value.reason == "corrupt_file"
