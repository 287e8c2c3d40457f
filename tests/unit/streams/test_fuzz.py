"""Fuzzing every input format (hypothesis): whatever bytes arrive, each validator either returns
a well-typed record or raises its one rejection error with a known reason code. Any other
exception would crash the agent that calls it, so finding one is a bug.

Inputs: arbitrary bytes; valid records with fields dropped, replaced by values of any JSON type
(huge, negative, NaN, nested), unknown fields added; truncated encodings.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.jobs import JobRejected, make_job_message, parse_job_message
from streams.sinks.influx import to_line
from wardwatch import topics
from wardwatch.records.admissions import adt_validate
from wardwatch.records.conditions import Condition
from wardwatch.records.ecg import ecg_validate
from wardwatch.records.errors import CODES, InvalidRecord
from wardwatch.records.labs import labs_validate
from wardwatch.records.points import point
from wardwatch.records.vitals import vitals_validate

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TS = (NOW - timedelta(seconds=5)).isoformat()
EXAMPLES = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID: dict[str, dict[str, Any]] = {
    "vitals": {
        "patient_id": "P1",
        "bed": "B1",
        "ts": TS,
        "hr_bpm": 72,
        "spo2_pct": 97,
        "rr_bpm": 14,
        "sbp_mmhg": 120,
        "dbp_mmhg": 80,
        "temp_c": 36.8,
        "o2": "air",
        "acvpu": "A",
    },
    "ecg": {
        "patient_id": "P1",
        "bed": "B1",
        "ts": TS,
        "fs_hz": 360,
        "seq": 3,
        "lead": "MLII",
        "ecg_uv": [0, 10, -10, 500] * 90,
        "lead2": "V1",
        "ecg2_uv": [1, 2, 3, 4] * 90,
    },
    "labs": {"patient_id": "P1", "ts": TS, "test": "Lactate", "value": 2.6, "unit": "mmol/L"},
    "admissions": {"patient_id": "P1", "admit_ts": TS, "age_years": 71, "sex": "F"},
}
#: the other record of the admissions topic
DISCHARGE = {"patient_id": "P1", "discharge_ts": TS, "reason": "to ward 7"}
VALIDATORS = {
    "vitals": vitals_validate,
    "ecg": ecg_validate,
    "labs": labs_validate,
    "admissions": adt_validate,  # admissions and discharges
}
#: (topic, valid record) of every input format
BASES = [(kind, VALID[kind]) for kind in sorted(VALID)] + [("admissions", DISCHARGE)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    d = dict(base)
    for name in draw(st.lists(st.sampled_from(sorted(base)), max_size=4, unique=True)):
        if draw(st.booleans()):
            del d[name]
        else:
            d[name] = draw(json_values)
    d.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    raw = json.dumps(d, allow_nan=True).encode()
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]  # truncated on the wire
    return raw


def _check(kind: str, raw: bytes) -> None:
    try:
        rec = VALIDATORS[kind](raw, key="P1", now=NOW)
    except InvalidRecord as e:
        assert e.code in CODES and e.message
        return
    assert rec.patient_id == "P1"


@pytest.mark.parametrize("kind, base", BASES)
def test_valid_base_records_are_accepted(kind, base):
    VALIDATORS[kind](json.dumps(base).encode(), key="P1", now=NOW)


@pytest.mark.parametrize("kind, base", BASES)
@EXAMPLES
@given(data=st.data())
def test_mutated_records_are_accepted_or_rejected_with_a_code(kind, base, data):
    _check(kind, data.draw(mutated(base)))


@pytest.mark.parametrize("kind", sorted(VALIDATORS))
@EXAMPLES
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_with_a_code(kind, raw):
    _check(kind, raw)


CONDITION = Condition("P1", "B1", "news2", True, "medium", TS, "NEWS2 5").to_dict()


@EXAMPLES
@given(data=st.data())
def test_conditions_are_well_typed_or_rejected(data):
    raw = data.draw(mutated(CONDITION))
    try:
        cond = Condition.from_dict(json.loads(raw))
    except (ValueError, TypeError, AttributeError):  # the alert agent dead-letters these
        return
    assert isinstance(cond.patient_id, str) and cond.patient_id
    assert isinstance(cond.ts, str) and isinstance(cond.active, bool) and isinstance(cond.latched, bool)
    assert isinstance(cond.message, str) and isinstance(cond.bed, str) and isinstance(cond.source, str)
    assert isinstance(cond.evidence, dict) and isinstance(cond.versions, dict)


POINT = point("vitals", {"patient": "P1", "bed": "B1"}, {"hr_bpm": 72.0}, NOW)


@EXAMPLES
@given(data=st.data())
def test_points_become_a_line_or_a_rejection(data):
    raw = data.draw(mutated(POINT))
    try:
        p = json.loads(raw)
    except ValueError:
        return  # the Faust codec rejects undecodable values before the sink sees them
    try:
        line = to_line(p)
    except (KeyError, TypeError, ValueError):  # the sink dead-letters these as "malformed"
        return
    assert isinstance(line, str) and line


JOB = make_job_message("notes", b"Pt denies chest pain.", "n.txt")


@EXAMPLES
@given(data=st.data())
def test_job_messages_are_parsed_or_rejected_with_a_reason(data):
    raw = data.draw(mutated(JOB))
    try:
        job = parse_job_message(raw, "notes")
    except JobRejected as e:
        assert e.reason and e.message
        return
    assert job.data == base64.b64decode(JOB["payload_b64"])


# ------------------------------------------------------------------ through the agents
# The same fuzzed records, mixed with clean ones of another patient, through the real agents
# under Faust's test harness (conftest.py): the agent never crashes, acknowledges every message,
# dead-letters each record its validator rejects with that record's code and offset, and
# processes every clean record around them.
AGENT_EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


#: the agents check device times against the wall clock
LIVE_T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def _clean_vitals(pid: str, i: int) -> bytes:
    ts = (LIVE_T0 + timedelta(seconds=i)).isoformat()
    return json.dumps({**VALID["vitals"], "patient_id": pid, "ts": ts, "hr_bpm": 60 + i % 40}).encode()


def _clean_ecg(pid: str, i: int) -> bytes:
    ts = (LIVE_T0 + timedelta(seconds=i)).isoformat()
    return json.dumps({**VALID["ecg"], "patient_id": pid, "ts": ts, "seq": i}).encode()


def _run_mixed(agents, agent_fn, kind, fuzzed, clean, clean_pid, fuzz_pid):
    """Put ``clean`` (key clean_pid) and ``fuzzed`` (key fuzz_pid) interleaved; return the
    events by kind and the dead letters by offset."""

    async def scenario():
        async with agent_fn.test_context() as agent:
            events = []
            for i in range(max(len(fuzzed), len(clean))):
                for label, items, key in (("clean", clean, clean_pid), ("fuzz", fuzzed, fuzz_pid)):
                    if i < len(items):
                        ev = await agent.put(items[i], key=key.encode(), partition=0, wait=False)
                        events.append((label, items[i], ev))
            await agents.processed(agent, *(ev for _, _, ev in events))
            assert agent._crash_reason is None
            return events

    events = agents.run(scenario())
    letters = {d["offset"]: d for d in agents.values(topics.DEADLETTER) if d.get("source_topic") == kind}
    return events, letters


def _validator_code(kind: str) -> Any:
    """The code ``VALIDATORS[kind]`` rejects a record with (None: a valid record)."""

    def code(raw: bytes, key: str) -> str | None:
        try:
            VALIDATORS[kind](raw, key=key, now=datetime.now(UTC))
        except InvalidRecord as e:
            return e.code
        return None

    return code


def _assert_mixed(expected_code, events, letters, stateful_codes):
    """Each clean record processed (no dead letter); each fuzzed one ``expected_code(raw, key)``
    rejects dead-lettered with that code; a fuzzed one it accepts processed, or dead-lettered
    with one of ``stateful_codes`` (for its place in the stream)."""
    for label, raw, ev in events:
        offset = ev.message.offset
        if label == "clean":
            assert offset not in letters, f"clean record dead-lettered: {letters.get(offset)}"
            continue
        code = expected_code(raw, ev.message.key.decode())
        if code is not None:
            assert offset in letters, f"rejected record not dead-lettered: {raw[:120]!r}"
            assert letters[offset]["code"] == code
            assert letters[offset]["reason"]
        else:  # valid as a record: processed, or dead-lettered for its place in the stream
            assert offset not in letters or letters[offset]["code"] in stateful_codes


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_vitals_through_the_agent(agents, data):
    import uuid

    from streams.vitals.agents import score_vitals, vitals_state

    clean_pid, fuzz_pid = f"C-{uuid.uuid4().hex[:8]}", f"F-{uuid.uuid4().hex[:8]}"
    base = {**VALID["vitals"], "patient_id": fuzz_pid, "ts": (LIVE_T0 - timedelta(minutes=10)).isoformat()}
    fuzzed = data.draw(st.lists(mutated(base) | st.binary(max_size=80), min_size=5, max_size=25))
    clean = [_clean_vitals(clean_pid, i) for i in range(10)]
    agents.broker.sent.clear()
    events, letters = _run_mixed(agents, score_vitals, topics.VITALS, fuzzed, clean, clean_pid, fuzz_pid)
    _assert_mixed(_validator_code("vitals"), events, letters, {"duplicate", "conflicting", "out_of_order"})
    assert vitals_state[clean_pid]["last_ts"] == json.loads(clean[-1])["ts"]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_ecg_through_the_agent(agents, data):
    import uuid

    from streams.ecg.agents import analyse_ecg, rt

    rt.load_classifier()
    clean_pid, fuzz_pid = f"C-{uuid.uuid4().hex[:8]}", f"F-{uuid.uuid4().hex[:8]}"
    base = {**VALID["ecg"], "patient_id": fuzz_pid, "ts": (LIVE_T0 - timedelta(minutes=10)).isoformat()}
    fuzzed = data.draw(st.lists(mutated(base) | st.binary(max_size=80), min_size=3, max_size=12))
    clean = [_clean_ecg(clean_pid, i) for i in range(4)]
    agents.broker.sent.clear()
    events, letters = _run_mixed(agents, analyse_ecg, topics.ECG, fuzzed, clean, clean_pid, fuzz_pid)
    _assert_mixed(
        _validator_code("ecg"), events, letters, {"duplicate", "out_of_order", "fs_mismatch", "seq_gap"}
    )


def _pids() -> tuple[str, str]:
    """A fresh clean and fuzzed patient per example (the tables persist across examples)."""
    import uuid

    return f"C-{uuid.uuid4().hex[:8]}", f"F-{uuid.uuid4().hex[:8]}"


def _reference(agents, agent_fn, kind, make_clean) -> str:
    """Run the clean records of a fresh patient alone (the run the fuzzed one must match);
    return that patient's id."""
    pid = _pids()[0].replace("C-", "R-")
    _run_mixed(agents, agent_fn, kind, [], make_clean(pid), pid, pid)
    return pid


def _side_state(pid: str) -> Any:
    """A patient's ``vitals-state`` entry without where it came from (partition, offset)."""
    from streams.vitals.agents import vitals_state

    return {k: v for k, v in vitals_state[pid].items() if k not in ("partition", "offset")}


def _clean_labs(pid: str) -> list[bytes]:
    return [
        json.dumps(
            {
                **VALID["labs"],
                "patient_id": pid,
                "ts": (LIVE_T0 + timedelta(minutes=i)).isoformat(),
                "value": 1.0 + i,
            }
        ).encode()
        for i in range(4)
    ]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_labs_through_the_agent(agents, data):
    from streams.labs.agents import ingest_labs

    clean_pid, fuzz_pid = _pids()
    base = {**VALID["labs"], "patient_id": fuzz_pid, "ts": (LIVE_T0 - timedelta(minutes=10)).isoformat()}
    fuzzed = data.draw(st.lists(mutated(base) | st.binary(max_size=80), min_size=5, max_size=25))
    ref = _reference(agents, ingest_labs, topics.LABS, _clean_labs)
    agents.broker.sent.clear()
    events, letters = _run_mixed(
        agents, ingest_labs, topics.LABS, fuzzed, _clean_labs(clean_pid), clean_pid, fuzz_pid
    )
    _assert_mixed(_validator_code("labs"), events, letters, set())
    assert _side_state(clean_pid) == _side_state(ref)


def _clean_admissions(pid: str) -> list[bytes]:
    """An admission, a corrected one (the later one counts)."""
    ts = (LIVE_T0 - timedelta(hours=5)).isoformat()
    return [
        json.dumps({**VALID["admissions"], "patient_id": pid, "admit_ts": ts, "age_years": age}).encode()
        for age in (70, 71)
    ]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_admissions_and_discharges_through_the_agent(agents, data):
    from streams.admissions.agents import ingest_admissions

    clean_pid, fuzz_pid = _pids()
    ts = (LIVE_T0 - timedelta(minutes=10)).isoformat()
    admission = {**VALID["admissions"], "patient_id": fuzz_pid, "admit_ts": ts}
    discharge = {**DISCHARGE, "patient_id": fuzz_pid, "discharge_ts": ts}
    fuzzed = data.draw(
        st.lists(mutated(admission) | mutated(discharge) | st.binary(max_size=80), min_size=5, max_size=25)
    )
    ref = _reference(agents, ingest_admissions, topics.ADMISSIONS, _clean_admissions)
    agents.broker.sent.clear()
    events, letters = _run_mixed(
        agents,
        ingest_admissions,
        topics.ADMISSIONS,
        fuzzed,
        _clean_admissions(clean_pid),
        clean_pid,
        fuzz_pid,
    )
    _assert_mixed(_validator_code("admissions"), events, letters, set())
    assert _side_state(clean_pid) == _side_state(ref)
