"""Fuzzing every input format (hypothesis): whatever bytes arrive, each validator either returns
a well-typed record or raises its one rejection error with a known reason code. Any other
exception would crash the agent that calls it, so finding one is a bug.

Inputs: arbitrary bytes; valid records with fields dropped, replaced by values of any JSON type
(huge, negative, NaN, nested), unknown fields added; truncated encodings.
"""

from __future__ import annotations

import base64
import json
import time
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
from wardwatch.records.points import point, points_message, unpack_points
from wardwatch.records.vitals import vitals_validate
from wardwatch.records.wire import decode_json

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


def _interleaved(clean: list[Any], fuzzed: list[Any]) -> list[tuple[str, Any]]:
    """``("clean", item)`` and ``("fuzz", item)`` alternating, the longer list's rest at the end."""
    return [
        (label, items[i])
        for i in range(max(len(fuzzed), len(clean)))
        for label, items in (("clean", clean), ("fuzz", fuzzed))
        if i < len(items)
    ]


def _run_mixed(agents, agent_fn, kind, fuzzed, clean, clean_pid, fuzz_pid):
    """Put ``clean`` (key clean_pid) and ``fuzzed`` (key fuzz_pid) interleaved; return the
    events by kind and the dead letters by offset."""
    keys = {"clean": clean_pid.encode(), "fuzz": fuzz_pid.encode()}

    async def scenario():
        async with agent_fn.test_context() as agent:
            events = []
            for label, item in _interleaved(clean, fuzzed):
                ev = await agent.put(item, key=keys[label], partition=0, wait=False)
                events.append((label, item, ev))
            await agents.processed(agent, *(ev for _, _, ev in events))
            assert agent._crash_reason is None
            return events

    events = agents.run(scenario())
    letters = {d["offset"]: d for d in agents.values(topics.DEADLETTER) if d.get("source_topic") == kind}
    return events, letters


@st.composite
def fuzz_stream(draw: st.DrawFn, items: st.SearchStrategy, min_size: int, max_size: int) -> list[Any]:
    """A list of ``items`` with a few of them repeated further on (duplicates, re-deliveries)."""
    xs = draw(st.lists(items, min_size=min_size, max_size=max_size))
    for _ in range(draw(st.integers(0, 3)) if xs else 0):
        xs.insert(draw(st.integers(0, len(xs))), draw(st.sampled_from(xs)))
    return xs


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
    fuzzed = data.draw(fuzz_stream(mutated(base) | st.binary(max_size=80), 5, 25))
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
    fuzzed = data.draw(fuzz_stream(mutated(base) | st.binary(max_size=80), 3, 12))
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
    fuzzed = data.draw(fuzz_stream(mutated(base) | st.binary(max_size=80), 5, 25))
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
    fuzzed = data.draw(fuzz_stream(mutated(admission) | mutated(discharge) | st.binary(max_size=80), 5, 25))
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


# ------------------------------------------------------------------ the alert agents
def _condition(pid: str, priority: str = "medium", active: bool = True, minutes: int = 0) -> dict[str, Any]:
    ts = (LIVE_T0 + timedelta(minutes=minutes)).isoformat()
    return {**CONDITION, "patient_id": pid, "priority": priority, "active": active, "ts": ts}


def _raise(agents, *pids: str) -> dict[str, str]:
    """A medium NEWS2 alarm for each of ``pids`` (through ``raise_alerts``); their alert ids."""
    from streams.alerts.agents import open_alerts, raise_alerts

    async def scenario():
        async with raise_alerts.test_context() as agent:
            evs = [await agent.put(_condition(pid), key=pid.encode(), wait=False) for pid in pids]
            await agents.processed(agent, *evs)

    agents.run(scenario())
    return {pid: open_alerts[pid]["open"]["news2"]["alert_id"] for pid in pids}


def _alert_events(agents, pid: str) -> list[tuple[Any, ...]]:
    """What the alert events of ``pid`` say, without ids and times."""
    return [
        (e["type"], e["priority"], e["source"], e.get("by"), e.get("reason"))
        for m, e in zip(agents.sent(topics.ALERTS), agents.values(topics.ALERTS), strict=True)
        if m.key == pid.encode()
    ]


#: when the fuzz's tokens are issued (whole seconds: tokens of one length, as hypothesis needs
#: its strategies to draw the same way when it replays an example)
TOKEN_NOW = float(int(time.time()))
#: how long the fuzz's valid tokens last: the module is imported when pytest collects, and under
#: ``make test`` these tests run half an hour later (a 10-minute token had expired by then)
TOKEN_TTL_S = 24 * 3600


def _tokens(secret: bytes) -> st.SearchStrategy:
    """Valid, forged, expired, wrong-role, tampered and garbage user tokens (and none)."""
    from wardwatch.identity import User, issue_token

    nurse, viewer = User("nurse-7", "Nora Seven", "nurse"), User("vic", "Vic", "viewer")
    now = TOKEN_NOW
    valid = issue_token(nurse, secret, now, TOKEN_TTL_S)
    body, _, sig = valid.rpartition(".")
    admin_body = "v1." + base64.urlsafe_b64encode(
        json.dumps({"sub": "x", "role": "admin", "exp": now + TOKEN_TTL_S}).encode()
    ).decode().rstrip("=")
    return (
        st.sampled_from(
            [
                valid,
                issue_token(nurse, b"f" * 32, now, TOKEN_TTL_S),  # another secret
                issue_token(nurse, secret, now - 100, 10),  # expired
                issue_token(viewer, secret, now, TOKEN_TTL_S),  # may not act
                f"{admin_body}.{sig}",  # payload swapped, signature kept
                valid[:-3],  # truncated
                f"{body}.{sig[:-1]}\u00e9",  # a signature that is not ASCII
                "",
            ]
        )
        | st.builds(lambda a, b: f"v1.{a}.{b}", st.text(max_size=12), st.text(max_size=12))
        | json_values
    )


def _mostly(right: st.SearchStrategy, wrong: st.SearchStrategy) -> st.SearchStrategy:
    """``right`` three times in four, else ``wrong`` (so that most fuzzed messages get as far as
    the checks behind the first one)."""
    return st.integers(0, 3).flatmap(lambda i: wrong if i == 0 else right)


@st.composite
def ack_messages(draw: st.DrawFn, pid: str, alert_ids: list[str], secret: bytes) -> bytes:
    """``alerts.ack`` messages near the contract (wardwatch.records.actions), some mutated."""
    msg: dict[str, Any] = {
        "patient_id": pid,
        "alert_id": draw(_mostly(st.sampled_from(alert_ids), st.text(max_size=70) | json_values)),
        "action": draw(_mostly(st.sampled_from(["acknowledge", "silence"]), json_values)),
    }
    if msg["action"] == "silence" or draw(st.integers(0, 4)) == 0:
        duration = st.sampled_from([0, 600, 600.5, -1, 1e9]) | st.floats() | json_values
        msg["duration_s"] = draw(_mostly(st.floats(1, 600), duration))
    if draw(st.integers(0, 5)):
        msg["token"] = draw(_tokens(secret))
    if draw(st.booleans()):
        msg["reason"] = draw(_mostly(st.text(max_size=20), st.just("x" * 501) | json_values))
    return draw(mutated(msg)) if draw(st.integers(0, 2)) == 0 else json.dumps(msg).encode()


def _ack_code(secret: bytes) -> Any:
    """The code ``act_on_alerts`` dead-letters a message with before it looks at the alerts."""
    from wardwatch.identity import AuthError, authorize
    from wardwatch.records.actions import action_validate

    def code(raw: bytes, key: str) -> str | None:
        try:
            action = action_validate(raw, key=key)
            authorize(action.token, action.action, secret, time.time())
        except (InvalidRecord, AuthError) as e:
            return e.code
        return None

    return code


def _clean_acks(pid: str, alert_id: str, secret: bytes) -> list[bytes]:
    from wardwatch.identity import User, issue_token

    tok = issue_token(User("nurse-7", "Nora Seven", "nurse"), secret, TOKEN_NOW, TOKEN_TTL_S)
    base = {"patient_id": pid, "alert_id": alert_id, "token": tok}
    return [
        json.dumps({**base, "action": "silence", "duration_s": 60}).encode(),
        json.dumps({**base, "action": "acknowledge", "reason": "reviewed"}).encode(),
    ]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_operator_actions_through_the_agent(agents, auth_secret, data):
    """Malformed JSON, missing/wrong fields, bad/expired/forged/tampered tokens, a viewer's,
    unknown alert ids, duplicates, silences out of range: each dead-lettered with its code; the
    clean patient's silence and acknowledgement act exactly as alone."""
    from streams.alerts.agents import act_on_alerts, open_alerts
    from wardwatch.identity import User, issue_token

    clean_pid, fuzz_pid = _pids()
    ref_pid = clean_pid.replace("C-", "R-")
    ids = _raise(agents, clean_pid, fuzz_pid, ref_pid)
    foreign = [ids[fuzz_pid], ids[clean_pid], "al-0000"]  # its own, another patient's, none
    fuzzed = data.draw(
        fuzz_stream(ack_messages(fuzz_pid, foreign, auth_secret) | st.binary(max_size=80), 5, 25)
    )
    _run_mixed(
        agents,
        act_on_alerts,
        topics.ALERTS_ACK,
        [],
        _clean_acks(ref_pid, ids[ref_pid], auth_secret),
        ref_pid,
        ref_pid,
    )
    alone = _alert_events(agents, ref_pid)
    assert [e[0] for e in alone] == ["raised", "silenced", "acknowledged"]
    agents.broker.sent.clear()
    clean = _clean_acks(clean_pid, ids[clean_pid], auth_secret)
    events, letters = _run_mixed(agents, act_on_alerts, topics.ALERTS_ACK, fuzzed, clean, clean_pid, fuzz_pid)
    _assert_mixed(_ack_code(auth_secret), events, letters, {"bad_value"})  # no such open alert
    assert _alert_events(agents, clean_pid) == alone[1:]  # (raised before the fuzz)
    assert open_alerts[clean_pid]["open"]["news2"]["acknowledged"] is True
    nurse, viewer = User("nurse-7", "Nora Seven", "nurse"), User("vic", "Vic", "viewer")
    usable = [issue_token(u, auth_secret, TOKEN_NOW, TOKEN_TTL_S).encode() for u in (nurse, viewer)]
    for d in letters.values():  # no usable credential in a dead letter
        assert not any(t in base64.b64decode(d.get("original_b64") or "") for t in usable)


def _condition_code(value: Any, key: str) -> str | None:
    """``raise_alerts`` dead-letters every condition it cannot read: bytes that are not JSON (or
    hold an integer beyond 64 bits) and what ``Condition.from_dict`` rejects with their code,
    anything else as ``malformed``."""
    try:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()  # as it is sent
        Condition.from_dict(decode_json(raw, finite=False))
    except InvalidRecord as e:
        return e.code
    except (TypeError, ValueError, KeyError):
        return "malformed"
    return None


def _clean_conditions(pid: str) -> list[dict[str, Any]]:
    """Raised, escalated, resolved."""
    return [_condition(pid), _condition(pid, "high", minutes=1), _condition(pid, "high", False, minutes=20)]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_conditions_through_the_agent(agents, data):
    """``alerts.conditions`` is internal, but a corrupted or foreign producer must not crash the
    alert agent: any bytes (not JSON, truncated) or JSON value is raised/resolved or
    dead-lettered, and the clean patient's alarm goes through raised/escalated/resolved as alone."""
    from streams.alerts.agents import raise_alerts

    clean_pid, fuzz_pid = _pids()
    base = _condition(fuzz_pid)
    fuzzed = data.draw(fuzz_stream(mutated(base) | json_values, 5, 25))
    alone = _alert_events(agents, _reference(agents, raise_alerts, topics.CONDITIONS, _clean_conditions))
    assert [e[0] for e in alone] == ["raised", "escalated", "resolved"]
    agents.broker.sent.clear()
    events, letters = _run_mixed(
        agents, raise_alerts, topics.CONDITIONS, fuzzed, _clean_conditions(clean_pid), clean_pid, fuzz_pid
    )
    _assert_mixed(_condition_code, events, letters, set())
    assert _alert_events(agents, clean_pid) == alone


# ------------------------------------------------------------------ the InfluxDB sink
def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _point_code(value: Any, key: str) -> str | None:
    """``write_points`` dead-letters a message that is not JSON, and one with a point that is
    not line protocol (or that holds an integer beyond 64 bits anywhere)."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()  # as it is sent
    try:
        value = decode_json(raw, finite=False)
    except InvalidRecord as e:
        return e.code
    for p in unpack_points(value):
        try:
            to_line(p)
        except (KeyError, TypeError, ValueError):
            return "malformed"
    return None


def _clean_points(pid: str) -> list[dict[str, Any]]:
    """Single points and a batch message of the clean patient."""
    pts = [
        point("vitals", {"patient": pid, "bed": "B1"}, {"hr_bpm": 60.0 + i}, LIVE_T0 + timedelta(seconds=i))
        for i in range(6)
    ]
    return [pts[0], points_message(pts[1:4]), pts[4], pts[5]]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_points_through_the_sink(agents, monkeypatch, data):
    """Any JSON value (what Faust's JSON codec hands the agent), alone or inside a batch message:
    each message with a point that is not line protocol dead-lettered with its offset; the clean
    patient's points written exactly as alone. InfluxDB itself is not here (the writer's ``post``
    records the body, as in test_agents_sinks.py): what the server rejects (HTTP 400) is tested
    against the real one in tests/integration."""
    import streams.sinks.agents as sink
    from streams.sinks.influx import InfluxWriter
    from wardwatch.settings import get_settings

    bodies: list[str] = []

    async def post(body: str) -> None:
        bodies.append(body)

    monkeypatch.setattr(sink, "writer", InfluxWriter(get_settings(), post=post))
    clean_pid, fuzz_pid = _pids()
    base = point("vitals", {"patient": fuzz_pid, "bed": "B1"}, {"hr_bpm": 72.0}, LIVE_T0)
    one = mutated(base).map(_json_or_none) | json_values  # a point inside a batch message
    fuzzed = data.draw(
        fuzz_stream(mutated(base) | one | st.lists(one, max_size=4).map(points_message), 5, 25)
    )

    def lines(pid: str) -> list[str]:
        return [ln.replace(pid, "<pid>") for b in bodies for ln in b.split("\n") if f"patient={pid}" in ln]

    ref = _reference(agents, sink.write_points, topics.POINTS, _clean_points)
    alone = lines(ref)
    assert len(alone) == 6
    agents.broker.sent.clear()
    events, letters = _run_mixed(
        agents, sink.write_points, topics.POINTS, fuzzed, _clean_points(clean_pid), clean_pid, fuzz_pid
    )
    _assert_mixed(_point_code, events, letters, set())
    assert lines(clean_pid) == alone


# ------------------------------------------------------------------ the batch worker (jobs.*)
def _job_handler(job: Any) -> dict[str, Any]:
    return {"outputs": {"n": len(job.data), "head": job.data[:8].decode("latin-1")}}


def _job_worker(tmp_path: Any) -> Any:
    """A notes worker whose Kafka ends are recorders (as tests/unit/batch/test_worker_shell.py):
    ``calls`` gets ("produce", topic, key, value) and ("commit", offset) in order."""
    from batch.worker import JobWorker
    from wardwatch.settings import Settings

    w = JobWorker("notes", handler=_job_handler, settings=Settings(artifacts_dir=tmp_path))
    w.calls = []
    w.refresh_done = lambda timeout_s=10.0: 0
    w._produce = lambda topic, key, value: w.calls.append(("produce", topic, key, value))
    w._commit = lambda msg: w.calls.append(("commit", msg.offset))
    w._metric = lambda result: None
    return w


def _run_jobs(
    tmp_path: Any, fuzzed: list[bytes], clean: list[bytes]
) -> tuple[Any, list[tuple[str, bytes, int]]]:
    """Hand ``clean`` and ``fuzzed`` interleaved to ``handle_message`` (never raising); return the
    worker and (label, raw, offset) of each message."""
    from types import SimpleNamespace

    w = _job_worker(tmp_path)
    sent = []
    for offset, (label, raw) in enumerate(_interleaved(clean, fuzzed)):
        w.handle_message(SimpleNamespace(topic="jobs.notes", partition=0, offset=offset, key=None, value=raw))
        sent.append((label, raw, offset))
    return w, sent


def _clean_jobs() -> list[bytes]:
    return [
        json.dumps(make_job_message("notes", f"note {i}: no chest pain".encode(), "n.txt")).encode()
        for i in range(3)
    ]


@AGENT_EXAMPLES
@given(data=st.data())
def test_fuzzed_jobs_through_the_batch_worker(tmp_path, data):
    """Mutated and foreign job messages (another kind, garbage, duplicates) through
    ``JobWorker.handle_message``: never raises, commits every message, dead-letters each rejected
    one with its reason (unless its job id already has a result of an accepted job: then it is
    skipped as a duplicate, by design); the clean jobs' results are as alone. (A message that claims a clean
    job's id: the test below.)"""
    from batch.jobs import peek_job_id

    clean = _clean_jobs()
    clean_ids = [json.loads(c)["job_id"] for c in clean]
    other_kind = make_job_message("image", b"\x00DICM", "x.dcm")
    items = mutated(JOB) | mutated(other_kind) | st.binary(max_size=80)
    fuzzed = data.draw(fuzz_stream(items, 3, 15))

    def results(w: Any) -> dict[str, Any]:
        return {
            c[2]: {k: c[3][k] for k in ("status", "outputs", "reason")}
            for c in w.calls
            if c[0] == "produce" and c[1] == "results.notes" and c[2] in clean_ids
        }

    alone = results(_run_jobs(tmp_path, [], clean)[0])
    assert [r["status"] for r in alone.values()] == ["ok"] * 3
    w, sent = _run_jobs(tmp_path, fuzzed, clean)
    assert sorted(c[1] for c in w.calls if c[0] == "commit") == [offset for _, _, offset in sent]
    letters = {c[3]["offset"]: c[3] for c in w.calls if c[0] == "produce" and c[1] == "deadletter"}
    done: set[str] = set()
    for label, raw, offset in sent:
        job_id = peek_job_id(raw, None)
        accepted = label == "clean"
        if label == "clean":
            assert offset not in letters
        elif job_id in done:
            assert offset not in letters  # skipped: this job id has its result
        else:
            try:
                parse_job_message(raw, "notes")
                accepted = True
            except JobRejected as e:
                assert offset in letters and letters[offset]["reason"] == e.reason
        if job_id and accepted:  # a rejected message's result does not count as its id done
            done.add(job_id)
    assert results(w) == alone


def test_a_message_claiming_a_clean_jobs_id_does_not_pre_empt_it(tmp_path):
    """Found by the fuzz: a rejected message's failed result was keyed by the job id it claims,
    unverified, and counted as that job done, so the real job was skipped. It is now marked
    ``rejected`` and not counted (``DoneSet.add_result_value``)."""
    clean = _clean_jobs()
    forged = json.dumps({**JOB, "job_id": json.loads(clean[0])["job_id"]}).encode()  # other bytes
    w, _ = _run_jobs(tmp_path, [], [forged, *clean])  # the forged one first
    statuses = [c[3]["status"] for c in w.calls if c[0] == "produce" and c[1] == "results.notes"]
    assert statuses.count("ok") == 3
