"""Patient states reach their changelog in order (``streams.tables``). A rebalance waits for the
batch that is writing them (``settle_on_revocation``, connected for the alert agent; the vitals
and ECG agents write their states by checkpoint on revocation, under their lock):
a state written after the partition's new owner recovered the changelog would be restored by a
later owner, older than what was processed since. And no state goes through Faust's producer
buffer (``table[key] = state``), where it could fall behind a later one written directly."""

from __future__ import annotations

import asyncio

import pytest

from streams import tables
from streams.alerts import agents as alerts
from streams.app import app
from streams.metrics import metrics
from streams.vitals import agents as vitals

HANDLERS = [
    pytest.param(vitals.vitals_checkpoint_on_revoke, vitals.state_lock, id="vitals"),
    pytest.param(alerts.settle_alerts_on_revocation, alerts.alerts_lock, id="alerts"),
]


async def _revoke_during_batch(handler, lock, batch_s: float) -> list[str]:
    order: list[str] = []

    async def batch() -> None:
        async with lock:
            await asyncio.sleep(batch_s)  # its outputs and states on their way to the broker
            order.append("states written")

    task = asyncio.ensure_future(batch())
    await asyncio.sleep(0)  # the batch holds the lock
    await handler(app, set(), signal=None)
    order.append("revocation done")
    await task
    return order


@pytest.mark.parametrize("handler, lock", HANDLERS)
def test_a_rebalance_waits_for_the_batch_writing_states(faust_loop, handler, lock):
    assert handler in set(app.on_partitions_revoked.iter_receivers(app))  # connected
    order = faust_loop.run_until_complete(_revoke_during_batch(handler, lock, 0.2))
    assert order == ["states written", "revocation done"]


@pytest.mark.parametrize("handler, lock", HANDLERS[1:])
def test_a_rebalance_waits_no_longer_than_its_bound(faust_loop, handler, lock, monkeypatch):
    """A batch whose publish the broker keeps refusing does not hold the rebalance for ever (the
    alert agent's; a checkpoint on revocation waits for its batch, as the ECG agent's always
    has: its states must not be written after the rebalance)."""
    monkeypatch.setattr(tables, "REVOKE_WAIT_S", 0.05)
    before = metrics.counts["revoke_wait_timeouts"]
    order = faust_loop.run_until_complete(_revoke_during_batch(handler, lock, 0.5))
    assert order == ["revocation done", "states written"]
    assert metrics.counts["revoke_wait_timeouts"] == before + 1


def test_a_state_with_a_partition_cannot_be_assigned_only_written(agents):
    """``table[key] = state`` would send the changelog record through Faust's producer buffer,
    possibly after a later state written directly: refused, nothing stored, nothing sent."""
    with pytest.raises(TypeError, match=r"table\.write"):
        vitals.vitals_state["P001"] = {"partition": 2, "offset": 7}
    assert "P001" not in vitals.vitals_state.data

    async def write() -> None:
        await vitals.vitals_state.write({"P001": {"partition": 2, "offset": 7}})

    agents.run(write())
    assert [(m.partition, m.json()) for m in agents.changelog(vitals.vitals_state)] == [
        (2, {"partition": 2, "offset": 7})
    ]
